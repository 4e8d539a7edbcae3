//! The part of a `WorkloadDeployment` (runtime.wasmcloud.dev/v1alpha1) a host acts on: the
//! workload template's components and host interfaces. What only the operator acts on
//! (replicas, scheduling, Kubernetes services, artifacts) is read and ignored; what needs a
//! cluster to resolve (ConfigMap and Secret references) or that this runner does not
//! implement (services, volumes) is an error naming the field, never silently dropped.

use anyhow::{bail, Context, Result};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: DeploymentSpec,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DeploymentSpec {
    pub template: Template,
}

#[derive(Debug, Deserialize)]
pub struct Template {
    pub spec: WorkloadSpec,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    #[serde(default)]
    pub components: Vec<Component>,
    #[serde(default)]
    pub host_interfaces: Vec<HostInterface>,
    #[serde(default)]
    pub service: Option<serde_yaml::Value>,
    #[serde(default)]
    pub volumes: Vec<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Component {
    pub name: String,
    pub image: String,
    // Pulling is the operator's: images here are local files.
    #[serde(default, rename = "imagePullPolicy")]
    _image_pull_policy: Option<IgnoredAny>,
    #[serde(default, rename = "imagePullSecret")]
    _image_pull_secret: Option<IgnoredAny>,
    #[serde(default)]
    pub local_resources: LocalResources,
    #[serde(default)]
    pub pool_size: Option<i32>,
    #[serde(default)]
    pub max_invocations: Option<i32>,
    // wash-runtime 0.1 has no such setting; an instance serves one call at a time.
    #[serde(default, rename = "maxConcurrency")]
    _max_concurrency: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalResources {
    #[serde(default)]
    pub environment: Environment,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    #[serde(default)]
    pub allowed_host_loopback_ports: Vec<String>,
    #[serde(default, rename = "allowedIpNameLookups")]
    pub allowed_ip_name_lookups: Vec<String>,
    #[serde(default)]
    pub volume_mounts: Vec<serde_yaml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Environment {
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub config_from: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub secret_from: Vec<serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostInterface {
    pub namespace: String,
    pub package: String,
    pub interfaces: Vec<String>,
    #[serde(default)]
    pub version: Option<String>,
    // Routes one of several entries of a package; with one entry per package there is nothing
    // to route.
    #[serde(default, rename = "name")]
    _name: Option<IgnoredAny>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub config_from: Vec<serde_yaml::Value>,
    #[serde(default)]
    pub secret_from: Vec<serde_yaml::Value>,
}

/// Reads a WorkloadDeployment and refuses what this runner cannot honor.
pub fn parse(text: &str) -> Result<Deployment> {
    let deployment: Deployment = serde_yaml::from_str(text).context("not a WorkloadDeployment")?;
    if deployment.api_version != "runtime.wasmcloud.dev/v1alpha1" || deployment.kind != "WorkloadDeployment" {
        bail!(
            "expected apiVersion runtime.wasmcloud.dev/v1alpha1, kind WorkloadDeployment; found {} {}",
            deployment.api_version,
            deployment.kind
        );
    }
    let spec = &deployment.spec.template.spec;
    let at = "spec.template.spec";
    if spec.service.is_some() {
        bail!("{at}.service: a workload service is not supported by this runner");
    }
    if !spec.volumes.is_empty() {
        bail!("{at}.volumes: volumes are not supported by this runner");
    }
    if spec.components.is_empty() {
        bail!("{at}.components: a workload needs at least one component");
    }
    for (i, c) in spec.components.iter().enumerate() {
        let at = format!("{at}.components[{i}] ({})", c.name);
        let env = &c.local_resources.environment;
        if !env.config_from.is_empty() || !env.secret_from.is_empty() {
            bail!("{at}.localResources.environment: configFrom and secretFrom name cluster objects; set `config`");
        }
        if !c.local_resources.volume_mounts.is_empty() {
            bail!("{at}.localResources.volumeMounts: volumes are not supported by this runner");
        }
        let resources = &c.local_resources;
        if !resources.allowed_host_loopback_ports.is_empty() || !resources.allowed_ip_name_lookups.is_empty() {
            bail!("{at}.localResources: allowedHostLoopbackPorts and allowedIpNameLookups are not supported by this runner");
        }
        if spec.components.iter().filter(|o| o.name == c.name).count() > 1 {
            bail!("{at}.name: two components are named {}", c.name);
        }
    }
    for (i, h) in spec.host_interfaces.iter().enumerate() {
        if !h.config_from.is_empty() || !h.secret_from.is_empty() {
            bail!("{at}.hostInterfaces[{i}]: configFrom and secretFrom name cluster objects; set `config`");
        }
        if let Some(v) = &h.version {
            semver::Version::parse(v).with_context(|| format!("{at}.hostInterfaces[{i}].version: `{v}`"))?;
        }
    }
    Ok(deployment)
}

/// The workload the manifest describes, with each component's image read from the file it maps
/// to and `overrides` (component name -> NAME -> VALUE) over its environment.
pub fn workload(
    deployment: &Deployment,
    images: &HashMap<String, std::path::PathBuf>,
    overrides: &HashMap<String, BTreeMap<String, String>>,
) -> Result<wash_runtime::types::Workload> {
    use wash_runtime::types;
    let spec = &deployment.spec.template.spec;
    for name in overrides.keys() {
        if !spec.components.iter().any(|c| &c.name == name) {
            bail!("--env {name}:...: the manifest has no component named {name}");
        }
    }
    let mut components = Vec::new();
    for c in &spec.components {
        let path = images.get(&c.image).with_context(|| {
            format!("component {}: no file for image {} (--image {}=FILE)", c.name, c.image, c.image)
        })?;
        let bytes = std::fs::read(path).with_context(|| format!("component {}: reading {}", c.name, path.display()))?;
        let mut environment: HashMap<String, String> =
            c.local_resources.environment.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(o) = overrides.get(&c.name) {
            environment.extend(o.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        components.push(types::Component {
            bytes: bytes.into(),
            local_resources: types::LocalResources {
                // The CRD carries no memory or CPU limit for a component: none is set.
                memory_limit_mb: -1,
                cpu_limit: -1,
                config: c.local_resources.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                environment,
                volume_mounts: Vec::new(),
                allowed_hosts: c.local_resources.allowed_hosts.clone(),
            },
            pool_size: c.pool_size.unwrap_or(0),
            max_invocations: c.max_invocations.unwrap_or(0),
        });
    }
    let host_interfaces = spec
        .host_interfaces
        .iter()
        .map(|h| {
            Ok(wash_runtime::wit::WitInterface {
                namespace: h.namespace.clone(),
                package: h.package.clone(),
                interfaces: h.interfaces.iter().cloned().collect(),
                version: h.version.as_deref().map(semver::Version::parse).transpose()?,
                config: h.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(types::Workload {
        namespace: deployment.metadata.namespace.clone().unwrap_or_else(|| "default".into()),
        name: deployment.metadata.name.clone(),
        annotations: HashMap::new(),
        service: None,
        components,
        host_interfaces,
        volumes: Vec::new(),
    })
}
