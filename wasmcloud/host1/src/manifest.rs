//! The part of a wadm application (`core.oam.dev/v1beta1`, wasmCloud 1.x) a host is told to
//! do by wadm: the components and capability providers to start, their named configuration,
//! their instance counts (`spreadscaler`) and the links between them (`link`). What this runner
//! does not implement (other traits, secrets, shared applications, policies) is an error naming
//! it, never silently dropped.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub components: Vec<Component>,
    #[serde(default)]
    pub policies: Vec<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub properties: Properties,
    #[serde(default)]
    pub traits: Vec<Trait>,
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Component,
    Capability,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Properties {
    pub image: Option<String>,
    /// The id wadm gives it; by default `APP-NAME`.
    pub id: Option<String>,
    #[serde(default)]
    pub config: Vec<NamedConfig>,
    #[serde(default)]
    pub secrets: Vec<serde_yaml::Value>,
    pub application: Option<serde_yaml::Value>,
}

/// A named configuration: wasmCloud's config service stores it under its name, and the
/// component (`wasi:config/store`) or provider given that name reads its properties.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct NamedConfig {
    pub name: String,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", content = "properties", rename_all = "lowercase")]
pub enum Trait {
    Spreadscaler(Spread),
    Daemonscaler(Spread),
    Link(Box<Link>),
}

#[derive(Debug, Deserialize)]
pub struct Spread {
    pub instances: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub target: LinkEnd,
    pub namespace: String,
    pub package: String,
    pub interfaces: Vec<String>,
    pub name: Option<String>,
    pub source: Option<LinkSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEnd {
    pub name: String,
    #[serde(default)]
    pub config: Vec<NamedConfig>,
    #[serde(default)]
    pub secrets: Vec<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSource {
    #[serde(default)]
    pub config: Vec<NamedConfig>,
    #[serde(default)]
    pub secrets: Vec<serde_yaml::Value>,
}

/// Reads and checks an application: its kind, and nothing this runner would have to ignore.
pub fn parse(text: &str) -> Result<Application> {
    let app: Application = serde_yaml::from_str(text).context("not a wadm application this runner reads")?;
    if app.api_version != "core.oam.dev/v1beta1" || app.kind != "Application" {
        bail!("apiVersion/kind: expected core.oam.dev/v1beta1 Application, got {} {}", app.api_version, app.kind);
    }
    if !app.spec.policies.is_empty() {
        bail!("spec.policies: policies (secrets backends) are not implemented by this runner");
    }
    for c in &app.spec.components {
        let at = format!("spec.components[{}]", c.name);
        if c.properties.image.is_none() {
            bail!("{at}.properties.image: required (shared applications are not implemented by this runner)");
        }
        if c.properties.application.is_some() {
            bail!("{at}.properties.application: shared applications are not implemented by this runner");
        }
        let secrets = !c.properties.secrets.is_empty()
            || c.traits.iter().any(|t| match t {
                Trait::Link(l) => {
                    !l.target.secrets.is_empty() || l.source.as_ref().is_some_and(|s| !s.secrets.is_empty())
                }
                _ => false,
            });
        if secrets {
            bail!("{at}: secrets are not implemented by this runner");
        }
        for t in &c.traits {
            if let Trait::Link(l) = t {
                if !app.spec.components.iter().any(|o| o.name == l.target.name) {
                    bail!("{at}: a link to `{}`, which is not a component of the application", l.target.name);
                }
            }
        }
    }
    Ok(app)
}

impl Application {
    /// The id wadm gives a component or provider of this application.
    pub fn id(&self, name: &str) -> String {
        let given = self.spec.components.iter().find(|c| c.name == name).and_then(|c| c.properties.id.clone());
        given.unwrap_or_else(|| format!("{}-{name}", self.metadata.name))
    }
}

impl Component {
    /// Its instance count (1 without a scaler, as wadm).
    pub fn instances(&self) -> u32 {
        self.traits
            .iter()
            .find_map(|t| match t {
                Trait::Spreadscaler(s) | Trait::Daemonscaler(s) => Some(s.instances),
                Trait::Link(_) => None,
            })
            .unwrap_or(1)
    }

    pub fn links(&self) -> impl Iterator<Item = &Link> {
        self.traits.iter().filter_map(|t| match t {
            Trait::Link(l) => Some(&**l),
            _ => None,
        })
    }
}
