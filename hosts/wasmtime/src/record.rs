//! Decision records ([`DecisionRecord`], authz-api's, the same in every host): one per
//! (resource, action) decided, handed to the configured hook (audit logs, metrics) after every
//! successful call.

use crate::types as wit;
pub use authz_api::audit::DecisionRecord;
use std::sync::Arc;
use std::time::Duration;

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
        let bundle = (self.bundle_digest, self.bundle_label, self.bundle_signature);
        let (request, principal) = (self.request_id, self.principal_id);
        DecisionRecord::new(request, principal, (kind, id), action, allowed, bundle, self.runtime, self.duration)
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

    /// Records of a plan: one per action planned, with the plan's filter.
    pub(crate) fn plan(&self, response: &wit::PlanResponse, hook: &DecisionHook) {
        let allowed = response.kind != wit::FilterKind::AlwaysDenied;
        let scope = |action: &str| response.matched_scopes.iter().find(|(a, _)| a == action).map(|(_, s)| s.clone());
        let actions = response.actions.iter().map(String::as_str);
        self.planned(&response.resource_kind, actions, allowed, &response.filter_debug, scope, hook);
    }

    /// Records of a Cerbos PlanResources JSON response (scopes from `meta` when present).
    pub(crate) fn plan_json(&self, response: &serde_json::Value, hook: &DecisionHook) {
        let Some(filter) =
            response.get("filter").and_then(|f| serde_json::from_value::<authz_api::plan::PlanFilter>(f.clone()).ok())
        else {
            return;
        };
        let allowed = filter.kind != authz_api::plan::FilterKind::AlwaysDenied;
        let kind = response.get("resourceKind").and_then(|k| k.as_str()).unwrap_or_default();
        let scopes = response.pointer("/meta/matchedScopes");
        let scope = |action: &str| scopes.and_then(|m| m.get(action)).and_then(|s| s.as_str()).map(str::to_string);
        let actions =
            response.get("actions").and_then(|a| a.as_array()).into_iter().flatten().filter_map(|a| a.as_str());
        self.planned(kind, actions, allowed, &filter.debug_string(), scope, hook);
    }

    fn planned<'a>(
        &self,
        kind: &str,
        actions: impl Iterator<Item = &'a str>,
        allowed: bool,
        filter: &str,
        scope: impl Fn(&str) -> Option<String>,
        hook: &DecisionHook,
    ) {
        for action in actions {
            let mut rec = self.record(kind, "", action, allowed);
            rec.scope = scope(action).unwrap_or_default();
            rec.filter = Some(filter.to_string());
            hook.call(&rec);
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
