//! The Cerbos policy document model, as written in YAML or JSON files.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use authz_api::Effect;

/// How a scoped policy combines with the policies of its parent scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ScopePermissions {
    /// Not set: treated as `SCOPE_PERMISSIONS_OVERRIDE_PARENT`.
    #[default]
    #[serde(rename = "SCOPE_PERMISSIONS_UNSPECIFIED")]
    Unspecified,
    /// An ALLOW in this scope is final.
    #[serde(rename = "SCOPE_PERMISSIONS_OVERRIDE_PARENT")]
    OverrideParent,
    /// An ALLOW in this scope also needs an ALLOW from a parent scope.
    #[serde(rename = "SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS")]
    RequireParentalConsentForAllows,
}

/// One policy document (a YAML document or a JSON file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyDoc {
    /// Always `api.cerbos.dev/v1`.
    pub api_version: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// A disabled policy is loaded and validated but never applies.
    #[serde(default)]
    pub disabled: bool,
    /// Annotations and store metadata; kept as data.
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    /// Deprecated top-level variables (merged into the policy's local variables).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// JSON schema hint for editors.
    #[serde(default, rename = "$schema")]
    pub json_schema: Option<String>,
    /// A resource policy.
    #[serde(default)]
    pub resource_policy: Option<ResourcePolicy>,
    /// A principal policy.
    #[serde(default)]
    pub principal_policy: Option<PrincipalPolicy>,
    /// A derived roles set.
    #[serde(default)]
    pub derived_roles: Option<DerivedRoles>,
    /// A role policy.
    #[serde(default)]
    pub role_policy: Option<RolePolicy>,
    /// Exported variables.
    #[serde(default)]
    pub export_variables: Option<ExportVariables>,
    /// Exported constants.
    #[serde(default)]
    pub export_constants: Option<ExportConstants>,
}

/// Variables a policy declares locally or imports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variables {
    /// Names of `exportVariables` sets to import.
    #[serde(default)]
    pub import: Vec<String>,
    /// Local definitions: name → CEL expression.
    #[serde(default)]
    pub local: BTreeMap<String, String>,
}

/// Constants a policy declares locally or imports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Constants {
    /// Names of `exportConstants` sets to import.
    #[serde(default)]
    pub import: Vec<String>,
    /// Local definitions: name → value.
    #[serde(default)]
    pub local: BTreeMap<String, serde_json::Value>,
}

/// A rule condition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The match tree.
    #[serde(default, rename = "match")]
    pub match_: Option<Match>,
    /// Deprecated Rego script conditions: rejected at compile time.
    #[serde(default)]
    pub script: Option<String>,
}

/// A node of a condition's match tree: exactly one field is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// A CEL expression.
    #[serde(default)]
    pub expr: Option<String>,
    /// All of these must hold.
    #[serde(default)]
    pub all: Option<MatchList>,
    /// Any of these must hold.
    #[serde(default)]
    pub any: Option<MatchList>,
    /// None of these may hold.
    #[serde(default)]
    pub none: Option<MatchList>,
}

/// A list of match nodes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchList {
    /// The nodes.
    #[serde(default)]
    pub of: Vec<Match>,
}

/// A rule's output expressions.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Output {
    /// Deprecated: same as `when.ruleActivated`.
    #[serde(default)]
    pub expr: Option<String>,
    /// Outputs by rule outcome.
    #[serde(default)]
    pub when: Option<OutputWhen>,
}

/// Outputs by rule outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputWhen {
    /// Evaluated when the rule's condition holds.
    #[serde(default)]
    pub rule_activated: Option<String>,
    /// Evaluated when the rule's condition does not hold.
    #[serde(default)]
    pub condition_not_met: Option<String>,
}

/// JSON schema references of a resource policy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schemas {
    /// Schema of principal attributes.
    #[serde(default)]
    pub principal_schema: Option<SchemaRef>,
    /// Schema of resource attributes.
    #[serde(default)]
    pub resource_schema: Option<SchemaRef>,
}

/// A reference to a schema file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaRef {
    /// `cerbos:///path/under/_schemas.json`.
    pub r#ref: String,
    /// Actions for which validation is skipped.
    #[serde(default)]
    pub ignore_when: Option<IgnoreWhen>,
}

/// Actions exempt from schema validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IgnoreWhen {
    /// Action globs.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// A resource policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourcePolicy {
    /// Resource kind.
    pub resource: String,
    /// Policy version.
    pub version: String,
    /// Imported derived role sets.
    #[serde(default)]
    pub import_derived_roles: Vec<String>,
    /// Rules.
    #[serde(default)]
    pub rules: Vec<ResourceRule>,
    /// Scope (dot separated).
    #[serde(default)]
    pub scope: String,
    /// Combination with parent scopes.
    #[serde(default)]
    pub scope_permissions: ScopePermissions,
    /// Attribute schemas.
    #[serde(default)]
    pub schemas: Option<Schemas>,
    /// Variables.
    #[serde(default)]
    pub variables: Option<Variables>,
    /// Constants.
    #[serde(default)]
    pub constants: Option<Constants>,
}

/// A resource policy rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRule {
    /// Action globs.
    pub actions: Vec<String>,
    /// Derived roles the rule applies to.
    #[serde(default)]
    pub derived_roles: Vec<String>,
    /// Roles the rule applies to (`*` for any).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Condition.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// Effect.
    pub effect: Effect,
    /// Rule name.
    #[serde(default)]
    pub name: Option<String>,
    /// Outputs.
    #[serde(default)]
    pub output: Option<Output>,
}

/// A principal policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrincipalPolicy {
    /// Principal ID.
    pub principal: String,
    /// Policy version.
    pub version: String,
    /// Rules per resource.
    #[serde(default)]
    pub rules: Vec<PrincipalRule>,
    /// Scope.
    #[serde(default)]
    pub scope: String,
    /// Combination with parent scopes.
    #[serde(default)]
    pub scope_permissions: ScopePermissions,
    /// Variables.
    #[serde(default)]
    pub variables: Option<Variables>,
    /// Constants.
    #[serde(default)]
    pub constants: Option<Constants>,
}

/// The rules of a principal policy for one resource kind glob.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrincipalRule {
    /// Resource kind glob.
    pub resource: String,
    /// Action rules.
    #[serde(default)]
    pub actions: Vec<PrincipalAction>,
}

/// A principal policy action rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrincipalAction {
    /// Action glob.
    pub action: String,
    /// Effect.
    pub effect: Effect,
    /// Condition.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// Rule name.
    #[serde(default)]
    pub name: Option<String>,
    /// Outputs.
    #[serde(default)]
    pub output: Option<Output>,
}

/// A set of derived role definitions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DerivedRoles {
    /// Set name, imported by resource policies.
    pub name: String,
    /// Definitions.
    #[serde(default)]
    pub definitions: Vec<RoleDef>,
    /// Variables.
    #[serde(default)]
    pub variables: Option<Variables>,
    /// Constants.
    #[serde(default)]
    pub constants: Option<Constants>,
}

/// One derived role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleDef {
    /// Role name.
    pub name: String,
    /// Roles it derives from (`*` for any).
    #[serde(default)]
    pub parent_roles: Vec<String>,
    /// Condition.
    #[serde(default)]
    pub condition: Option<Condition>,
}

/// A role policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolePolicy {
    /// Role name.
    pub role: String,
    /// Policy version.
    #[serde(default)]
    pub version: Option<String>,
    /// Scope.
    #[serde(default)]
    pub scope: String,
    /// Roles this role inherits from.
    #[serde(default)]
    pub parent_roles: Vec<String>,
    /// Rules.
    #[serde(default)]
    pub rules: Vec<RoleRule>,
    /// Variables.
    #[serde(default)]
    pub variables: Option<Variables>,
    /// Constants.
    #[serde(default)]
    pub constants: Option<Constants>,
}

/// A role policy rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleRule {
    /// Resource kind glob.
    pub resource: String,
    /// The only actions allowed.
    #[serde(default)]
    pub allow_actions: Vec<String>,
    /// Condition.
    #[serde(default)]
    pub condition: Option<Condition>,
    /// Rule name.
    #[serde(default)]
    pub name: Option<String>,
    /// Outputs.
    #[serde(default)]
    pub output: Option<Output>,
}

/// Exported variables.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportVariables {
    /// Set name.
    pub name: String,
    /// name → CEL expression.
    #[serde(default)]
    pub definitions: BTreeMap<String, String>,
}

/// Exported constants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportConstants {
    /// Set name.
    pub name: String,
    /// name → value.
    #[serde(default)]
    pub definitions: BTreeMap<String, serde_json::Value>,
}
