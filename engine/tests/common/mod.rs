//! Fixtures shared by the engine's integration tests.

/// A resource policy for kind `doc`: every role may `view` a resource it owns.
pub const OWNER_POLICY: &str = r#"
apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["view"]
      roles: ["*"]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: R.attr.owner == P.id
"#;
