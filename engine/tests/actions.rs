//! The actions a bundle names for a resource kind (`Bundle::actions_for`, the candidates of an
//! AuthZEN action search): literal actions of resource policy rules in every version and scope,
//! of principal policy rules for the kind, and of role policy rules; never another kind's, and
//! never a wildcard.

use authz_engine::{Bundle, Source};

const POLICIES: [(&str, &str); 6] = [
    (
        "doc.yaml",
        r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["view", "edit"]
      roles: ["user"]
      effect: EFFECT_ALLOW
    - actions: ["*"]
      roles: ["admin"]
      effect: EFFECT_ALLOW
    - actions: ["share:*"]
      roles: ["user"]
      effect: EFFECT_DENY
"#,
    ),
    (
        "doc.acme.yaml",
        r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  scope: acme
  rules:
    - actions: ["archive", "view"]
      roles: ["user"]
      effect: EFFECT_ALLOW
"#,
    ),
    (
        "doc.v2.yaml",
        r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: v2
  rules:
    - actions: ["restore"]
      roles: ["user"]
      effect: EFFECT_ALLOW
"#,
    ),
    (
        "photo.yaml",
        r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: photo
  version: default
  rules:
    - actions: ["crop"]
      roles: ["user"]
      effect: EFFECT_ALLOW
"#,
    ),
    (
        "alice.yaml",
        r#"apiVersion: api.cerbos.dev/v1
principalPolicy:
  principal: alice
  version: default
  rules:
    - resource: doc
      actions:
        - action: "purge"
          effect: EFFECT_ALLOW
    - resource: "*"
      actions:
        - action: "audit"
          effect: EFFECT_ALLOW
"#,
    ),
    (
        "auditor.yaml",
        r#"apiVersion: api.cerbos.dev/v1
rolePolicy:
  role: auditor
  scope: acme
  parentRoles: ["user"]
  rules:
    - resource: doc
      allowActions: ["inspect", "view:*"]
"#,
    ),
];

#[test]
fn every_literal_action_named_for_the_kind_in_any_policy_version_and_scope() {
    let sources = POLICIES.iter().map(|(p, t)| Source::new(*p, *t)).collect();
    let bundle = match Bundle::build(sources, None) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    // `audit` comes from a principal rule for every kind (`*`): it is a literal action that
    // rule names for this kind too.
    assert_eq!(bundle.actions_for("doc"), ["archive", "audit", "edit", "inspect", "purge", "restore", "view"]);
    assert_eq!(bundle.actions_for("photo"), ["audit", "crop"]);
    assert_eq!(bundle.actions_for("nothing"), ["audit"]);
}
