//! The request/response model every host and the engine share (Cerbos's engine
//! `CheckInput` / `CheckOutput`): what is asked, under which options, and what was decided.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A point in time with its UTC offset (`now` of a request).
pub type Timestamp = DateTime<FixedOffset>;

/// Parses an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s).ok()
}

/// The effect of a rule and the decision for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    /// The action is allowed.
    #[serde(rename = "EFFECT_ALLOW")]
    Allow,
    /// The action is denied.
    #[serde(rename = "EFFECT_DENY")]
    Deny,
}

impl Effect {
    /// The Cerbos wire name (`EFFECT_ALLOW` / `EFFECT_DENY`).
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "EFFECT_ALLOW",
            Effect::Deny => "EFFECT_DENY",
        }
    }
}

/// JSON object of attributes.
pub type Attributes = serde_json::Map<String, serde_json::Value>;

/// Who is asking.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Principal {
    /// Principal ID.
    pub id: String,
    /// Policy version to use (empty: the default version).
    #[serde(default)]
    pub policy_version: String,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Attributes.
    #[serde(default, deserialize_with = "crate::json::strict_object")]
    pub attr: Attributes,
    /// Scope (empty: the default scope).
    #[serde(default)]
    pub scope: String,
}

/// What is being accessed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resource {
    /// Resource kind.
    pub kind: String,
    /// Resource ID.
    #[serde(default)]
    pub id: String,
    /// Policy version to use (empty: the default version).
    #[serde(default)]
    pub policy_version: String,
    /// Attributes.
    #[serde(default, deserialize_with = "crate::json::strict_object")]
    pub attr: Attributes,
    /// Scope (empty: the default scope).
    #[serde(default)]
    pub scope: String,
}

/// A signed JWT as Cerbos's API takes it (`auxData.jwt`), verified by the engine against the
/// bundle's key sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Token {
    /// The compact JWS.
    pub token: String,
    /// Which configured key set verifies it (empty: the only one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_set_id: String,
}

/// Auxiliary data: JWT claims (verified), and tokens still to verify.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuxData {
    /// Claims of the verified JWT (or, in test suites and engine cases, given as they are).
    #[serde(default, deserialize_with = "crate::json::strict_object")]
    pub jwt: Attributes,
    /// Several named tokens: `name → {claims: {...}}`.
    #[serde(default, skip_serializing_if = "Attributes::is_empty", deserialize_with = "crate::json::strict_object")]
    pub jwts: Attributes,
    /// What an AuthZEN request carried beyond Cerbos's model (`action` properties and the
    /// other `context` keys), visible to conditions as `request.auxData.authzen`.
    #[serde(default, skip_serializing_if = "Attributes::is_empty", deserialize_with = "crate::json::strict_object")]
    pub authzen: Attributes,
    /// Signed tokens the engine verifies before deciding, whose claims then become `jwt` (the
    /// token named `""`, Cerbos's `auxData.jwt`) and `jwts` (Cerbos's `auxData.jwts`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokens: BTreeMap<String, Token>,
}

/// One principal, one resource, several actions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckInput {
    /// Echoed in the output.
    #[serde(default)]
    pub request_id: String,
    /// Who.
    pub principal: Principal,
    /// What.
    pub resource: Resource,
    /// Actions to decide.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Auxiliary data.
    #[serde(default)]
    pub aux_data: Option<AuxData>,
}

/// How schema violations are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaEnforcement {
    /// Schemas are not checked.
    #[default]
    None,
    /// Violations are reported; decisions are unchanged.
    Warn,
    /// Violations are reported and every action is denied.
    Reject,
}

impl std::str::FromStr for SchemaEnforcement {
    type Err = String;

    /// `none`, `warn` or `reject` (as in `authzOptions.schemaEnforcement`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(SchemaEnforcement::None),
            "warn" => Ok(SchemaEnforcement::Warn),
            "reject" => Ok(SchemaEnforcement::Reject),
            other => Err(format!("`{other}` is not a schema enforcement: none, warn or reject")),
        }
    }
}

/// The policy version used when neither a request nor its options name one.
pub const DEFAULT_POLICY_VERSION: &str = "default";

/// Per-request evaluation options.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOptions {
    /// Values for `globals` / `G`.
    pub globals: Attributes,
    /// Version used when a request names none.
    pub default_policy_version: String,
    /// Scope used when a request names none.
    pub default_scope: String,
    /// Search up from a scope that has no policy instead of failing to match.
    pub lenient_scopes: bool,
    /// Schema enforcement.
    pub schema_enforcement: SchemaEnforcement,
    /// The request's time (`now()`); never taken from a clock here.
    pub now: Option<DateTime<FixedOffset>>,
    /// A rule whose condition fails to evaluate denies instead of not matching.
    pub strict_evaluation: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            globals: Attributes::new(),
            default_policy_version: DEFAULT_POLICY_VERSION.into(),
            default_scope: String::new(),
            lenient_scopes: false,
            schema_enforcement: SchemaEnforcement::None,
            now: None,
            strict_evaluation: false,
        }
    }
}

/// The decision for one action. The policy and rule names are shared with the policies that
/// decided (an engine answers without copying them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionEffect {
    /// ALLOW or DENY.
    pub effect: Effect,
    /// Key of the deciding policy, or `NO_MATCH`.
    pub policy: Arc<str>,
    /// Scope of the deciding rule (empty for the root scope).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Name of the deciding rule (`rule-NNN` when unnamed); empty when no rule decided.
    /// Not part of Cerbos's response: it is for decision records and audit logs.
    #[serde(default, skip_serializing)]
    pub rule: Arc<str>,
}

/// A rule output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputEntry {
    /// `policy key#rule name`.
    pub src: String,
    /// The value.
    pub val: serde_json::Value,
    /// The action the rule was evaluated for.
    pub action: String,
    /// Why the output expression failed to evaluate (`val` is then null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A schema violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationError {
    /// JSON pointer into the attributes.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// `SOURCE_PRINCIPAL` or `SOURCE_RESOURCE`.
    pub source: String,
}

/// An expression that failed to evaluate (treated as false).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationError {
    /// The expression as written.
    pub expression: String,
    /// Why it failed.
    pub message: String,
}

/// The decisions for one [`CheckInput`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckOutput {
    /// Echo of the input's request ID.
    pub request_id: String,
    /// The resource's ID.
    pub resource_id: String,
    /// Decision per action.
    pub actions: BTreeMap<String, ActionEffect>,
    /// Derived roles that were active.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effective_derived_roles: Vec<String>,
    /// Schema violations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_errors: Vec<ValidationError>,
    /// Rule outputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputEntry>,
    /// Expressions that failed to evaluate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evaluation_errors: Vec<EvaluationError>,
}

/// What a decider has baked in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleDetails {
    /// `sha256:<hex>` over the policy sources.
    pub digest: String,
    /// Label given at bake time.
    pub label: Option<String>,
    /// Number of policies.
    pub policy_count: u32,
    /// Version of the engine.
    pub engine_version: String,
    /// Whether any condition, variable or output reads the request's time.
    pub reads_clock: bool,
}
