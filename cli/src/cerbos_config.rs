//! A Cerbos server configuration file (`.cerbos.yaml`, `cerbos server --config`) read for
//! `authz serve --config`: every key that applies to authz mapped to its setting, the others
//! reported. Values may name environment variables as Cerbos's do: `${VAR}`, and
//! `${VAR:default}` for a variable that is unset or empty.

pub use crate::store::ConfigError;
use authz_api::SchemaEnforcement;
use serde_yaml::Value;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// What `authz serve` takes from a Cerbos configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerSettings {
    /// `server.httpListenAddr` (`:3592` is every interface, as in Cerbos).
    pub http_listen_addr: Option<SocketAddr>,
    /// `server.grpcListenAddr`, in a build with the gRPC API (the `grpc` feature; without it
    /// the key is reported, not applied).
    pub grpc_listen_addr: Option<SocketAddr>,
    /// `server.requestLimits.maxResourcesPerRequest`.
    pub max_resources: Option<usize>,
    /// `server.requestLimits.maxActionsPerResource`.
    pub max_actions: Option<usize>,
    /// `storage.disk.directory` (storage driver `disk`).
    pub policies: Option<PathBuf>,
    /// `storage.disk.watchForChanges`.
    pub watch_for_changes: bool,
    /// `schema.enforcement`.
    pub schema_enforcement: Option<SchemaEnforcement>,
    /// `engine.defaultPolicyVersion`.
    pub default_policy_version: Option<String>,
    /// `engine.lenientScopeSearch`.
    pub lenient_scope_search: Option<bool>,
    /// `engine.strictEvaluation`.
    pub strict_evaluation: Option<bool>,
    /// `engine.globals`.
    pub globals: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether it has an `auxData` section (its JWT key sets go into the bundle).
    pub aux_data: bool,
    /// Where decision records go: `audit` enabled with the `file` backend (`stdout`, `stderr`
    /// or a path), decision logs on.
    pub audit_log: Option<String>,
    /// The keys read but not applied, each with why: to be reported at start.
    pub ignored: Vec<String>,
}

/// `text` with `${VAR}` and `${VAR:default}` replaced by `var(VAR)`, as Cerbos expands its
/// configuration: an unset variable is empty, and the default stands for an unset or empty one.
/// A `$` not followed by `{` is left as it is.
pub fn expand_env(text: &str, var: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[at..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let value = var(name).filter(|v| !v.is_empty() || default.is_none());
        out.push_str(&value.unwrap_or_else(|| default.unwrap_or_default().to_string()));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The Cerbos configuration at `path` (none: an empty one), environment variables expanded
/// from the process's, then `sets` applied: `KEY.PATH=VALUE` overrides, as `cerbos server
/// --set` takes them (the value read as YAML: `true`, `50`, `:3592`).
pub fn read(path: Option<&Path>, sets: &[String]) -> Result<ServerSettings, ConfigError> {
    let (shown, text) = match path {
        Some(path) => {
            let shown = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: shown.clone(), source })?;
            (shown, expand_env(&text, |v| std::env::var(v).ok()))
        }
        None => ("--set".to_string(), String::new()),
    };
    let shown = if sets.is_empty() || path.is_none() { shown } else { format!("{shown} with --set") };
    let mut root = yaml(&text, &shown)?;
    for set in sets {
        apply_set(&mut root, set).map_err(|message| ConfigError::Invalid { path: "--set".into(), message })?;
    }
    settings(root, &shown)
}

/// The settings in `text` (a Cerbos configuration, variables already expanded); `shown` names
/// it in errors.
pub fn parse(text: &str, shown: &str) -> Result<ServerSettings, ConfigError> {
    settings(yaml(text, shown)?, shown)
}

fn yaml(text: &str, shown: &str) -> Result<Value, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid { path: shown.to_string(), message };
    match serde_yaml::from_str(text).map_err(|e| invalid(format!("(file): {e}")))? {
        Value::Null => Ok(Value::Mapping(serde_yaml::Mapping::new())),
        v @ Value::Mapping(_) => Ok(v),
        _ => Err(invalid("(file): is not a YAML mapping".into())),
    }
}

/// `a.b.c=value` into `root`: the mappings on the way created, the value read as YAML.
fn apply_set(root: &mut Value, set: &str) -> Result<(), String> {
    let (path, value) = set.split_once('=').ok_or_else(|| format!("`{set}`: expected KEY.PATH=VALUE"))?;
    let value = match serde_yaml::from_str::<Value>(value) {
        Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_))) => v,
        _ => Value::String(value.to_string()),
    };
    let mut at = root;
    let keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!("`{set}`: an empty key"));
    }
    for (i, key) in keys.iter().enumerate() {
        if !at.is_mapping() {
            *at = Value::Mapping(serde_yaml::Mapping::new());
        }
        let Value::Mapping(m) = at else { return Err(format!("`{set}`: not a mapping")) };
        let key = Value::String((*key).to_string());
        if i + 1 == keys.len() {
            m.insert(key, value);
            return Ok(());
        }
        at = m.entry(key).or_insert(Value::Null);
    }
    Ok(())
}

fn settings(root: Value, shown: &str) -> Result<ServerSettings, ConfigError> {
    // The file, then the key: `c.yaml: storage.driver: ...`.
    let invalid = |key: &str, message: String| ConfigError::Invalid {
        path: shown.to_string(),
        message: format!("{key}: {message}"),
    };
    let mut s = ServerSettings::default();
    let Value::Mapping(root) = root else { return Ok(s) };
    for (section, value) in &root {
        let section = section.as_str().unwrap_or_default();
        match section {
            "server" => server(value, &mut s, &invalid)?,
            "storage" => storage(value, &mut s, &invalid)?,
            "schema" => schema(value, &mut s, &invalid)?,
            "engine" => engine(value, &mut s, &invalid)?,
            "auxData" => s.aux_data = true,
            "audit" => audit(value, &mut s, &invalid)?,
            other => s.ignored.push(format!("{other}: not used by authz")),
        }
    }
    Ok(s)
}

type Invalid<'a> = dyn Fn(&str, String) -> ConfigError + 'a;

fn entries(v: &Value) -> Vec<(String, &Value)> {
    v.as_mapping()
        .map(|m| m.iter().map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v)).collect())
        .unwrap_or_default()
}

fn string(v: &Value, key: &str, invalid: &Invalid<'_>) -> Result<String, ConfigError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(invalid(key, "must be a string".into())),
    }
}

fn boolean(v: &Value, key: &str, invalid: &Invalid<'_>) -> Result<bool, ConfigError> {
    match v {
        Value::Bool(b) => Ok(*b),
        // An expanded variable arrives as text.
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(invalid(key, "must be true or false".into())),
    }
}

fn count(v: &Value, key: &str, invalid: &Invalid<'_>) -> Result<usize, ConfigError> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    n.and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid(key, "must be a whole number above 0".into()))
}

/// A Cerbos listen address: `host:port`, `:port` (every interface), a name that resolves.
fn listen_addr(text: &str, key: &str, invalid: &Invalid<'_>) -> Result<SocketAddr, ConfigError> {
    if text.starts_with("unix:") {
        return Err(invalid(key, format!("`{text}`: authz listens on TCP only")));
    }
    let text = if text.starts_with(':') { format!("0.0.0.0{text}") } else { text.to_string() };
    text.to_socket_addrs()
        .map_err(|e| invalid(key, format!("`{text}`: {e}")))?
        .next()
        .ok_or_else(|| invalid(key, format!("`{text}` names no address")))
}

fn schema(value: &Value, s: &mut ServerSettings, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    for (key, v) in entries(value) {
        match key.as_str() {
            "enforcement" => {
                let text = string(v, "schema.enforcement", invalid)?;
                s.schema_enforcement = Some(text.parse().map_err(|e: String| invalid("schema.enforcement", e))?);
            }
            other => s.ignored.push(format!("schema.{other}: not used by authz")),
        }
    }
    Ok(())
}

fn engine(value: &Value, s: &mut ServerSettings, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    for (key, v) in entries(value) {
        match key.as_str() {
            "defaultPolicyVersion" => {
                s.default_policy_version = Some(string(v, "engine.defaultPolicyVersion", invalid)?)
            }
            "lenientScopeSearch" => s.lenient_scope_search = Some(boolean(v, "engine.lenientScopeSearch", invalid)?),
            "strictEvaluation" => s.strict_evaluation = Some(boolean(v, "engine.strictEvaluation", invalid)?),
            "globals" => match serde_json::to_value(v).map_err(|e| invalid("engine.globals", e.to_string()))? {
                serde_json::Value::Object(m) => s.globals = Some(m),
                serde_json::Value::Null => {}
                _ => return Err(invalid("engine.globals", "must be a mapping".into())),
            },
            other => s.ignored.push(format!("engine.{other}: not used by authz")),
        }
    }
    Ok(())
}

fn server(value: &Value, s: &mut ServerSettings, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    for (key, v) in entries(value) {
        match key.as_str() {
            "httpListenAddr" => {
                let text = string(v, "server.httpListenAddr", invalid)?;
                s.http_listen_addr = Some(listen_addr(&text, "server.httpListenAddr", invalid)?);
            }
            "grpcListenAddr" if cfg!(feature = "grpc") => {
                let text = string(v, "server.grpcListenAddr", invalid)?;
                s.grpc_listen_addr = Some(listen_addr(&text, "server.grpcListenAddr", invalid)?);
            }
            "grpcListenAddr" => s
                .ignored
                .push("server.grpcListenAddr: this authz was built without the gRPC API (cargo feature `grpc`)".into()),
            "requestLimits" => {
                for (limit, n) in entries(v) {
                    match limit.as_str() {
                        "maxResourcesPerRequest" => {
                            s.max_resources = Some(count(n, "server.requestLimits.maxResourcesPerRequest", invalid)?);
                        }
                        "maxActionsPerResource" => {
                            s.max_actions = Some(count(n, "server.requestLimits.maxActionsPerResource", invalid)?);
                        }
                        other => s.ignored.push(format!("server.requestLimits.{other}: not used by authz")),
                    }
                }
            }
            // Serving plain HTTP where TLS was asked for would downgrade the operator's setup.
            "tls" if !v.is_null() && v.as_mapping().is_none_or(|m| !m.is_empty()) => {
                return Err(invalid(
                    "server.tls",
                    "authz serves plain HTTP: terminate TLS in front of it (a proxy, a mesh) and remove this key"
                        .into(),
                ));
            }
            "adminAPI" => s.ignored.push(
                "server.adminAPI: authz's admin API (/admin/reload, /admin/bundle) is enabled by --admin-token".into(),
            ),
            other => s.ignored.push(format!("server.{other}: not used by authz")),
        }
    }
    Ok(())
}

fn storage(value: &Value, s: &mut ServerSettings, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let driver = match value.get("driver") {
        None => return Err(invalid("storage.driver", "is required".into())),
        Some(v) => string(v, "storage.driver", invalid)?,
    };
    if driver != "disk" {
        return Err(invalid(
            "storage.driver",
            format!("`{driver}`: authz reads policies from a directory (`disk`) or a baked component (--component)"),
        ));
    }
    for (key, v) in entries(value) {
        match key.as_str() {
            "driver" => {}
            "disk" => {
                for (k, dv) in entries(v) {
                    match k.as_str() {
                        "directory" => s.policies = Some(PathBuf::from(string(dv, "storage.disk.directory", invalid)?)),
                        "watchForChanges" => {
                            s.watch_for_changes = boolean(dv, "storage.disk.watchForChanges", invalid)?
                        }
                        other => s.ignored.push(format!("storage.disk.{other}: not used by authz")),
                    }
                }
            }
            other => s.ignored.push(format!("storage.{other}: only the disk driver is read")),
        }
    }
    if s.policies.is_none() {
        return Err(invalid("storage.disk.directory", "is required with the disk driver".into()));
    }
    Ok(())
}

fn audit(value: &Value, s: &mut ServerSettings, invalid: &Invalid<'_>) -> Result<(), ConfigError> {
    let enabled = match value.get("enabled") {
        None => false,
        Some(v) => boolean(v, "audit.enabled", invalid)?,
    };
    let decisions = match value.get("decisionLogsEnabled") {
        None => true,
        Some(v) => boolean(v, "audit.decisionLogsEnabled", invalid)?,
    };
    if !enabled || !decisions {
        return Ok(());
    }
    let backend = value.get("backend").map(|v| string(v, "audit.backend", invalid)).transpose()?;
    match backend.as_deref() {
        Some("file") => {
            let path = value.get("file").and_then(|f| f.get("path"));
            let path = path.map(|p| string(p, "audit.file.path", invalid)).transpose()?;
            s.audit_log = Some(path.unwrap_or_else(|| "stdout".into()));
        }
        // Decisions the operator asked to keep must not silently go nowhere.
        other => {
            return Err(invalid(
                "audit.backend",
                format!(
                    "`{}`: authz writes decision logs to a file or stdout (backend `file`, file.path)",
                    other.unwrap_or("(none)")
                ),
            ))
        }
    }
    for (key, _) in entries(value) {
        if !["enabled", "backend", "file", "decisionLogsEnabled"].contains(&key.as_str()) {
            s.ignored.push(format!("audit.{key}: not used by authz"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "cerbos_config_tests.rs"]
mod tests;
