//! Decision records: one per (resource, action) decided, with the evidence of which bundle and
//! rule made it, and their audit-log line. Every host writes the same record: `authz serve`
//! (through the wasmtime host's decision hook), the `wasi:http` gateway (on stderr, which Spin
//! collects as logs), and any later runtime.

use crate::cerbos::CheckResourcesRequest;
use crate::decide::{Decision, PlanDecision};
use crate::model::Effect;
use crate::plan::{FilterKind, PlanInput};
use std::time::Duration;

/// Who signed a sealed component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The signing key's id: the first 16 hex digits of the sha256 of its public key.
    pub key_id: String,
    /// The Ed25519 signature, hex.
    pub value: String,
}

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
    pub bundle_signature: Option<Signature>,
    /// Which runtime decided (for example `wasmtime`).
    pub runtime: String,
    /// Time the whole call took (all of its decisions).
    pub duration: Duration,
    /// For a plan (no resource ID): the filter, as Cerbos's `filterDebug` writes it; `allowed`
    /// is then whether the filter lets any resource through.
    pub filter: Option<String>,
}

impl DecisionRecord {
    /// A record of `action` on a resource, with no deciding policy or rule yet.
    #[expect(clippy::too_many_arguments, reason = "every field a record of one call shares, once")]
    pub fn new(
        request_id: &str,
        principal_id: &str,
        resource: (&str, &str),
        action: &str,
        allowed: bool,
        bundle: (&str, Option<&str>, Option<&Signature>),
        runtime: &str,
        duration: Duration,
    ) -> Self {
        DecisionRecord {
            request_id: request_id.to_string(),
            principal_id: principal_id.to_string(),
            resource_kind: resource.0.to_string(),
            resource_id: resource.1.to_string(),
            action: action.to_string(),
            allowed,
            policy: String::new(),
            rule: String::new(),
            scope: String::new(),
            bundle_digest: bundle.0.to_string(),
            bundle_label: bundle.1.map(str::to_string),
            bundle_signature: bundle.2.cloned(),
            runtime: runtime.to_string(),
            duration,
            filter: None,
        }
    }

    /// The records of a plan, one per action planned, each with the plan's filter (the one
    /// filter that allows them all) and the scope that decided the action.
    pub fn of_plan(input: &PlanInput, plan: &PlanDecision, runtime: &str, duration: Duration) -> Vec<DecisionRecord> {
        let bundle = (plan.bundle_digest.as_str(), plan.bundle_label.as_deref(), None);
        let out = &plan.output;
        let allowed = out.filter.kind != FilterKind::AlwaysDenied;
        let resource = (out.resource_kind.as_str(), "");
        let filter = out.filter.debug_string();
        input
            .actions
            .iter()
            .map(|action| {
                let (id, principal) = (&input.request_id, &input.principal.id);
                let mut rec = DecisionRecord::new(id, principal, resource, action, allowed, bundle, runtime, duration);
                rec.scope = out.matched_scopes.get(action).cloned().unwrap_or_default();
                rec.filter = Some(filter.clone());
                rec
            })
            .collect()
    }

    /// The records of a decision, one per action of each resource, in the request's order.
    pub fn of_decision(
        request: &CheckResourcesRequest,
        decision: &Decision,
        runtime: &str,
        duration: Duration,
    ) -> Vec<DecisionRecord> {
        let bundle = (decision.bundle_digest.as_str(), decision.bundle_label.as_deref(), None);
        let mut records = Vec::new();
        for (entry, output) in request.resources.iter().zip(&decision.outputs) {
            let resource = (entry.resource.kind.as_str(), entry.resource.id.as_str());
            for action in &entry.actions {
                let Some(a) = output.actions.get(action) else { continue };
                let allowed = a.effect == Effect::Allow;
                let (id, principal) = (&request.request_id, &request.principal.id);
                let mut rec = DecisionRecord::new(id, principal, resource, action, allowed, bundle, runtime, duration);
                rec.policy = a.policy.to_string();
                rec.rule = a.rule.to_string();
                rec.scope.clone_from(&a.scope);
                records.push(rec);
            }
        }
        records
    }

    /// `EFFECT_ALLOW` or `EFFECT_DENY`, as Cerbos writes effects.
    pub fn effect(&self) -> &'static str {
        if self.allowed {
            "EFFECT_ALLOW"
        } else {
            "EFFECT_DENY"
        }
    }

    /// The record as one JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let mut record = serde_json::json!({
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
        });
        if let (Some(filter), Some(obj)) = (&self.filter, record.as_object_mut()) {
            obj.insert("filter".into(), filter.clone().into());
        }
        record
    }

    /// The record as one audit-log line (no newline): JSON, with U+2028 and U+2029 escaped,
    /// which JSON allows raw inside strings but JavaScript line readers split on.
    pub fn to_line(&self) -> String {
        let line = self.to_json().to_string();
        if line.contains(['\u{2028}', '\u{2029}']) {
            line.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
        } else {
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DecisionRecord;
    use crate::cerbos::CheckResourcesRequest;
    use crate::decide::{Decision, PlanDecision};
    use crate::model::{ActionEffect, CheckOutput, Effect};
    use crate::plan::{FilterKind, Operand, PlanFilter, PlanInput, PlanOutput};
    use std::time::Duration;

    fn request() -> CheckResourcesRequest {
        let text = r#"{"requestId":"r1","principal":{"id":"alice","roles":["user"]},
            "resources":[{"actions":["view","edit"],"resource":{"kind":"doc","id":"d1"}}]}"#;
        let limits = crate::cerbos::Limits::default();
        crate::cerbos::decode_request_with_options(text, &limits, &Default::default()).map(|(r, _)| r).unwrap()
    }

    #[test]
    fn a_record_per_action_in_request_order_with_policy_rule_and_scope() {
        let mut output = CheckOutput {
            request_id: "r1".into(),
            resource_id: "d1".into(),
            actions: Default::default(),
            effective_derived_roles: vec![],
            validation_errors: vec![],
            outputs: vec![],
            evaluation_errors: vec![],
        };
        let allow = ActionEffect {
            effect: Effect::Allow,
            policy: "resource.doc.vdefault".into(),
            scope: "acme".into(),
            rule: "owner".into(),
        };
        let deny =
            ActionEffect { effect: Effect::Deny, policy: "NO_MATCH".into(), scope: String::new(), rule: "".into() };
        output.actions.insert("view".into(), allow);
        output.actions.insert("edit".into(), deny);
        let decision =
            Decision { outputs: vec![output], bundle_digest: "sha256:ab".into(), bundle_label: Some("l".into()) };
        let records = DecisionRecord::of_decision(&request(), &decision, "spin", Duration::from_micros(5));
        let lines: Vec<serde_json::Value> =
            records.iter().map(|r| serde_json::from_str(&r.to_line()).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["action"], "view");
        assert_eq!(lines[0]["effect"], "EFFECT_ALLOW");
        assert_eq!(lines[0]["rule"], "owner");
        assert_eq!(lines[0]["scope"], "acme");
        assert_eq!(lines[0]["resourceKind"], "doc");
        assert_eq!(lines[0]["principalId"], "alice");
        assert_eq!(lines[0]["bundleLabel"], "l");
        assert_eq!(lines[0]["runtime"], "spin");
        assert_eq!(lines[1]["action"], "edit");
        assert_eq!(lines[1]["effect"], "EFFECT_DENY");
        assert_eq!(lines[1]["policy"], "NO_MATCH");
    }

    #[test]
    fn a_plan_has_a_record_per_action_with_the_filter_and_no_resource_id() {
        let input = PlanInput {
            request_id: "p1".into(),
            actions: vec!["view".into(), "edit".into()],
            principal: crate::model::Principal { id: "alice".into(), ..Default::default() },
            ..Default::default()
        };
        let condition = Operand::op(
            "eq",
            vec![Operand::Variable("request.resource.attr.owner".into()), Operand::Value("alice".into())],
        );
        let mut output = PlanOutput {
            request_id: "p1".into(),
            actions: input.actions.clone(),
            resource_kind: "doc".into(),
            policy_version: "default".into(),
            scope: String::new(),
            filter: PlanFilter::from_condition(condition),
            matched_scopes: [("view".to_string(), "acme".to_string())].into_iter().collect(),
            validation_errors: vec![],
        };
        let plan = PlanDecision { output: output.clone(), bundle_digest: "sha256:ab".into(), bundle_label: None };
        let records = DecisionRecord::of_plan(&input, &plan, "wasmtime", Duration::ZERO);
        let lines: Vec<serde_json::Value> =
            records.iter().map(|r| serde_json::from_str(&r.to_line()).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!((&lines[0]["action"], &lines[1]["action"]), (&"view".into(), &"edit".into()));
        assert_eq!(lines[0]["filter"], r#"(eq request.resource.attr.owner "alice")"#);
        assert_eq!(lines[0]["resourceId"], "");
        assert_eq!(lines[0]["resourceKind"], "doc");
        assert_eq!(lines[0]["scope"], "acme");
        assert_eq!(lines[0]["effect"], "EFFECT_ALLOW", "a conditional filter lets resources through");
        output.filter = PlanFilter::from_condition(Operand::Value(false.into()));
        assert_eq!(output.filter.kind, FilterKind::AlwaysDenied);
        let plan = PlanDecision { output, bundle_digest: "sha256:ab".into(), bundle_label: None };
        let records = DecisionRecord::of_plan(&input, &plan, "wasmtime", Duration::ZERO);
        assert!(records.iter().all(|r| !r.allowed && r.filter.as_deref() == Some("(false)")));
        // A check's record has no filter.
        let check = serde_json::from_str::<serde_json::Value>(
            &DecisionRecord::of_decision(
                &request(),
                &Decision { outputs: vec![], bundle_digest: String::new(), bundle_label: None },
                "x",
                Duration::ZERO,
            )
            .first()
            .map(DecisionRecord::to_line)
            .unwrap_or_else(|| "{}".into()),
        )
        .unwrap();
        assert!(check.get("filter").is_none());
    }

    #[test]
    fn line_separators_are_escaped() {
        let mut rec = DecisionRecord::new(
            "r\u{2028}",
            "p\u{2029}",
            ("k", "i"),
            "a",
            true,
            ("d", None, None),
            "x",
            Duration::ZERO,
        );
        rec.rule = "plain".into();
        let line = rec.to_line();
        assert!(!line.contains(['\u{2028}', '\u{2029}']), "{line}");
        assert!(line.contains("\\u2028") && line.contains("\\u2029"), "{line}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&line).unwrap()["requestId"], "r\u{2028}");
    }
}
