//! The runtimes the corpus runs through: one trait, one implementation per runtime, and a
//! [`Matrix`] that runs every check through all of them and requires identical answers.
//!
//! Adding a runtime (an HTTP PDP, jco, ...) means adding a [`Runtime`] here; no test changes.

use authz_engine::wire::{self, Limits};
use authz_engine::{
    ActionEffect, Bundle, CheckInput, CheckOptions, CheckOutput, Decide, EvaluationError, OutputEntry,
    SchemaEnforcement, ValidationError,
};
use authz_wasmtime::types as wit;
use std::path::PathBuf;

/// A runtime that can be loaded with a bundle.
pub trait Runtime {
    /// Short name for reports.
    fn name(&self) -> &'static str;
    /// Prepares the runtime to decide with `bundle` (for a component: bake and load it).
    fn load(&self, bundle: &Bundle) -> Result<Box<dyn Loaded>, String>;
}

/// A runtime loaded with a bundle: typed decisions plus the Cerbos JSON path.
pub trait Loaded: Decide {
    /// Cerbos CheckResources JSON in, response JSON out.
    fn check_json(&self, request: &str) -> Result<serde_json::Value, String>;
}

/// The engine in-process, loading the bundle from its serialized bytes like the component does.
pub struct Native;

struct NativeLoaded(Bundle);

impl Runtime for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn load(&self, bundle: &Bundle) -> Result<Box<dyn Loaded>, String> {
        Ok(Box::new(NativeLoaded(Bundle::from_bytes(&bundle.to_bytes()).map_err(|e| e.to_string())?)))
    }
}

impl Decide for NativeLoaded {
    fn decide(&self, opts: &CheckOptions, inputs: &[CheckInput]) -> Result<Vec<CheckOutput>, String> {
        self.0.decide(opts, inputs)
    }
}

impl Loaded for NativeLoaded {
    fn check_json(&self, request: &str) -> Result<serde_json::Value, String> {
        wire::check_json(&self.0, request, &Limits::default(), &CheckOptions::default()).map_err(|e| e.to_string())
    }
}

/// The generic component baked with the bundle, run by `authz-wasmtime`.
pub struct ComponentInWasmtime {
    generic: Vec<u8>,
}

impl ComponentInWasmtime {
    /// Reads the generic component built by `scripts/build-component.sh`.
    pub fn new() -> Result<Self, String> {
        let path = generic_component_path();
        let generic = std::fs::read(&path).map_err(|e| {
            format!("generic component `{}` not found ({e}): run `bash scripts/build-component.sh`", path.display())
        })?;
        Ok(ComponentInWasmtime { generic })
    }
}

/// Where `scripts/build-component.sh` writes the generic component.
pub fn generic_component_path() -> PathBuf {
    if let Some(p) = std::env::var_os("AUTHZ_GENERIC_COMPONENT") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("authz-wasm/authz-pdp-generic.wasm")
}

struct ComponentLoaded(authz_wasmtime::Pdp);

impl Runtime for ComponentInWasmtime {
    fn name(&self) -> &'static str {
        "component/wasmtime"
    }

    fn load(&self, bundle: &Bundle) -> Result<Box<dyn Loaded>, String> {
        let baked = authz_component::bake::bake(&self.generic, &bundle.to_bytes()).map_err(|e| e.to_string())?;
        // Compiled components are cached beside the generic one, so reruns skip Cranelift.
        let cache_dir = generic_component_path().with_file_name("compiled");
        // Requests pass through exactly as the corpus wrote them: no host clock.
        let config = authz_wasmtime::Config { cache_dir: Some(cache_dir), supply_now: false, ..Default::default() };
        let pdp = authz_wasmtime::Pdp::from_bytes(&baked, config).map_err(|e| e.to_string())?;
        Ok(Box::new(ComponentLoaded(pdp)))
    }
}

impl Decide for ComponentLoaded {
    fn decide(&self, opts: &CheckOptions, inputs: &[CheckInput]) -> Result<Vec<CheckOutput>, String> {
        inputs
            .iter()
            .map(|input| {
                let response = self.0.check(&typed_request(opts, input)?).map_err(|e| e.to_string())?;
                let [result] = <[wit::ResourceResult; 1]>::try_from(response.results)
                    .map_err(|r| format!("{} results for one resource", r.len()))?;
                Ok(check_output(response.request_id, result))
            })
            .collect()
    }
}

impl Loaded for ComponentLoaded {
    fn check_json(&self, request: &str) -> Result<serde_json::Value, String> {
        let text = self.0.check_json(request).map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("the component answered invalid JSON: {e}"))
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string(v).map_err(|e| e.to_string())
}

/// The typed (WIT) request asking what `input` asks under `opts`.
pub fn typed_request(opts: &CheckOptions, input: &CheckInput) -> Result<wit::CheckRequest, String> {
    let (p, r) = (&input.principal, &input.resource);
    Ok(wit::CheckRequest {
        request_id: input.request_id.clone(),
        principal: wit::Principal {
            id: p.id.clone(),
            roles: p.roles.clone(),
            attr_json: json(&p.attr)?,
            policy_version: p.policy_version.clone(),
            scope: p.scope.clone(),
        },
        resources: vec![wit::ResourceEntry {
            resource: wit::Resource {
                kind: r.kind.clone(),
                id: r.id.clone(),
                attr_json: json(&r.attr)?,
                policy_version: r.policy_version.clone(),
                scope: r.scope.clone(),
            },
            actions: input.actions.clone(),
        }],
        aux_data_json: input.aux_data.as_ref().map(json).transpose()?,
        options: wit::CheckOptions {
            now: opts.now.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)),
            globals_json: Some(json(&opts.globals)?),
            default_policy_version: Some(opts.default_policy_version.clone()),
            default_scope: Some(opts.default_scope.clone()),
            lenient_scopes: opts.lenient_scopes,
            schema_enforcement: match opts.schema_enforcement {
                SchemaEnforcement::None => wit::SchemaEnforcement::None,
                SchemaEnforcement::Warn => wit::SchemaEnforcement::Warn,
                SchemaEnforcement::Reject => wit::SchemaEnforcement::Reject,
            },
            strict_evaluation: opts.strict_evaluation,
        },
    })
}

/// The engine's output type from the component's typed result.
fn check_output(request_id: String, r: wit::ResourceResult) -> CheckOutput {
    CheckOutput {
        request_id,
        resource_id: r.resource_id,
        actions: r
            .actions
            .into_iter()
            .map(|a| {
                let effect = match a.effect {
                    wit::Effect::Allow => authz_engine::policy::Effect::Allow,
                    wit::Effect::Deny => authz_engine::policy::Effect::Deny,
                };
                (a.action, ActionEffect { effect, policy: a.policy, scope: a.scope })
            })
            .collect(),
        effective_derived_roles: r.effective_derived_roles,
        validation_errors: r
            .validation_errors
            .into_iter()
            .map(|v| ValidationError { path: v.path, message: v.message, source: v.source })
            .collect(),
        outputs: r
            .outputs
            .into_iter()
            .map(|o| OutputEntry {
                src: o.src,
                action: o.action,
                val: serde_json::from_str(&o.value_json).unwrap_or(serde_json::Value::String(o.value_json)),
            })
            .collect(),
        evaluation_errors: r
            .evaluation_errors
            .into_iter()
            .map(|e| EvaluationError { expression: e.expression, message: e.message })
            .collect(),
    }
}

/// Every runtime loaded with one bundle. As a [`Decide`], it answers with the native engine's
/// outputs after checking that every other runtime gave identical outputs (typed call) and an
/// identical Cerbos JSON response (JSON call, bundle digest included).
pub struct Matrix {
    loaded: Vec<(&'static str, Box<dyn Loaded>)>,
}

/// The runtimes every corpus runs through. A missing generic component is an error, never a skip.
pub fn runtimes() -> Result<Vec<Box<dyn Runtime>>, String> {
    Ok(vec![Box::new(Native), Box::new(ComponentInWasmtime::new()?)])
}

impl Matrix {
    /// Loads `bundle` into every runtime.
    pub fn load(bundle: &Bundle) -> Result<Matrix, String> {
        let loaded = runtimes()?
            .into_iter()
            .map(|rt| rt.load(bundle).map(|l| (rt.name(), l)).map_err(|e| format!("{}: {e}", rt.name())))
            .collect::<Result<_, _>>()?;
        Ok(Matrix { loaded })
    }

    /// The runtimes' names, for reports.
    pub fn names(&self) -> Vec<&'static str> {
        self.loaded.iter().map(|(n, _)| *n).collect()
    }
}

impl Decide for Matrix {
    fn decide(&self, opts: &CheckOptions, inputs: &[CheckInput]) -> Result<Vec<CheckOutput>, String> {
        let Some(((native_name, native), others)) = self.loaded.split_first() else {
            return Err("no runtimes".into());
        };
        let want = native.decide(opts, inputs)?;
        let requests: Vec<String> = inputs.iter().map(|i| wire::encode_request(opts, i).to_string()).collect();
        let want_json: Vec<_> = requests.iter().map(|r| native.check_json(r)).collect();
        for (name, rt) in others {
            let got = rt.decide(opts, inputs).map_err(|e| format!("{name}: {e}"))?;
            if got != want {
                return Err(format!(
                    "{name} decided differently from {native_name} under {opts:?}:\n  got  {got:?}\n  want {want:?}"
                ));
            }
            for (request, want) in requests.iter().zip(&want_json) {
                let got = rt.check_json(request);
                if &got != want {
                    return Err(format!(
                        "{name} answered JSON differently from {native_name} for {request}:\n  got  {got:?}\n  want {want:?}"
                    ));
                }
            }
        }
        Ok(want)
    }
}
