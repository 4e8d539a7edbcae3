//! Decision records: one per (resource, action) decided, handed to the configured hook (audit
//! logs, metrics) after every successful call.

use crate::types as wit;
use std::sync::Arc;
use std::time::Duration;

/// One decision, with the evidence of which bundle and rule made it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DecisionRecord {
    /// The request's ID.
    pub request_id: String,
    /// The principal's ID.
    pub principal_id: String,
    /// The resource's kind.
    pub resource_kind: String,
    /// The resource's ID.
    pub resource_id: String,
    /// The action decided.
    pub action: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Key of the deciding policy, or `NO_MATCH`.
    pub policy: String,
    /// Name of the deciding rule; empty when none decided (JSON calls without `includeMeta`
    /// carry no rule, and no policy unless the response has meta).
    pub rule: String,
    /// Scope of the deciding rule.
    pub scope: String,
    /// Digest of the bundle that decided.
    pub bundle_digest: String,
    /// The bundle's label.
    pub bundle_label: Option<String>,
    /// Who signed the component that decided, when it is signed.
    pub bundle_signature: Option<crate::seal::Signature>,
    /// Which runtime decided (for example `wasmtime`).
    pub runtime: String,
    /// Time the whole call took (all of its decisions).
    pub duration: Duration,
}

impl DecisionRecord {
    /// `EFFECT_ALLOW` or `EFFECT_DENY`, as Cerbos writes effects.
    pub fn effect(&self) -> &'static str {
        if self.allowed {
            "EFFECT_ALLOW"
        } else {
            "EFFECT_DENY"
        }
    }

    /// The record as one JSON object (an audit log line).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requestId": self.request_id,
            "principalId": self.principal_id,
            "resourceKind": self.resource_kind,
            "resourceId": self.resource_id,
            "action": self.action,
            "effect": self.effect(),
            "policy": self.policy,
            "rule": self.rule,
            "scope": self.scope,
            "bundleDigest": self.bundle_digest,
            "bundleLabel": self.bundle_label,
            "bundleSignature": self.bundle_signature.as_ref().map(|s| serde_json::json!({
                "keyId": s.key_id,
                "value": s.value,
            })),
            "runtime": self.runtime,
            "durationMicros": self.duration.as_secs_f64() * 1e6,
        })
    }
}

/// A callback that receives every [`DecisionRecord`]; it runs on the deciding thread, so it
/// should be quick (queue, count, write a line).
#[derive(Clone)]
pub struct DecisionHook(Arc<dyn Fn(&DecisionRecord) + Send + Sync>);

impl DecisionHook {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&DecisionRecord) + Send + Sync + 'static) -> Self {
        DecisionHook(Arc::new(f))
    }

    pub(crate) fn call(&self, record: &DecisionRecord) {
        (self.0)(record);
    }
}

impl std::fmt::Debug for DecisionHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecisionHook(..)")
    }
}

/// What every record of one call shares.
pub(crate) struct CallInfo<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) principal_id: &'a str,
    pub(crate) bundle_digest: &'a str,
    pub(crate) bundle_label: Option<&'a str>,
    pub(crate) bundle_signature: Option<&'a crate::seal::Signature>,
    pub(crate) runtime: &'a str,
    pub(crate) duration: Duration,
}

impl CallInfo<'_> {
    fn record(&self, kind: &str, id: &str, action: &str, allowed: bool) -> DecisionRecord {
        DecisionRecord {
            request_id: self.request_id.to_string(),
            principal_id: self.principal_id.to_string(),
            resource_kind: kind.to_string(),
            resource_id: id.to_string(),
            action: action.to_string(),
            allowed,
            policy: String::new(),
            rule: String::new(),
            scope: String::new(),
            bundle_digest: self.bundle_digest.to_string(),
            bundle_label: self.bundle_label.map(str::to_string),
            bundle_signature: self.bundle_signature.cloned(),
            runtime: self.runtime.to_string(),
            duration: self.duration,
        }
    }

    /// Records of a typed response.
    pub(crate) fn typed(&self, response: &wit::CheckResponse, hook: &DecisionHook) {
        for r in &response.results {
            for a in &r.actions {
                let mut rec = self.record(&r.resource_kind, &r.resource_id, &a.action, a.effect == wit::Effect::Allow);
                rec.policy.clone_from(&a.policy);
                rec.rule.clone_from(&a.rule);
                rec.scope.clone_from(&a.scope);
                hook.call(&rec);
            }
        }
    }

    /// Records of a Cerbos JSON response (policy and scope from `meta` when present).
    pub(crate) fn json(&self, response: &serde_json::Value, hook: &DecisionHook) {
        let results = response.get("results").and_then(|r| r.as_array()).into_iter().flatten();
        for r in results {
            let res = r.get("resource");
            let field = |k: &str| res.and_then(|x| x.get(k)).and_then(|v| v.as_str()).unwrap_or_default();
            let Some(actions) = r.get("actions").and_then(|a| a.as_object()) else { continue };
            for (action, effect) in actions {
                let mut rec = self.record(field("kind"), field("id"), action, effect == "EFFECT_ALLOW");
                if let Some(m) = r.get("meta").and_then(|m| m.get("actions")).and_then(|m| m.get(action)) {
                    let meta = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                    rec.policy = meta("matchedPolicy");
                    rec.scope = meta("matchedScope");
                }
                hook.call(&rec);
            }
        }
    }
}
