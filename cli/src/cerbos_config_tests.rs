use super::*;

fn vars(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/pdp".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

#[test]
fn variables_expand_as_cerbos_expands_them() {
    let cases = [
        ("dir: ${HOME}/policies", "dir: /home/pdp/policies"),
        ("a: ${UNSET}", "a: "),
        ("a: ${UNSET:staging}", "a: staging"),
        ("a: ${EMPTY:fallback}", "a: fallback"),
        ("a: ${EMPTY}", "a: "),
        ("a: ${HOME:other}", "a: /home/pdp"),
        ("a: ${UNSET:127.0.0.1:3592}", "a: 127.0.0.1:3592"),
        ("cost: $5 and ${", "cost: $5 and ${"),
    ];
    for (text, want) in cases {
        assert_eq!(expand_env(text, vars), want, "{text}");
    }
}

const FULL: &str = r#"
server:
  httpListenAddr: ":3592"
  grpcListenAddr: ":3593"
  requestLimits:
    maxActionsPerResource: 20
    maxResourcesPerRequest: "30"
  cors:
    disabled: true
storage:
  driver: disk
  disk:
    directory: /srv/policies
    watchForChanges: true
schema:
  enforcement: reject
engine:
  defaultPolicyVersion: staging
  lenientScopeSearch: true
  strictEvaluation: true
  globals:
    environment: production
    regions: [eu, us]
auxData:
  jwt:
    disableVerification: true
audit:
  enabled: true
  accessLogsEnabled: true
  backend: file
  file:
    path: /var/log/decisions.log
telemetry:
  disabled: true
"#;

#[test]
fn every_key_that_applies_is_read_and_every_other_is_reported() {
    let s = match parse(FULL, "c.yaml") {
        Ok(s) => s,
        Err(e) => unreachable!("{e}"),
    };
    assert_eq!(s.http_listen_addr, Some(SocketAddr::from(([0, 0, 0, 0], 3592))));
    // Served by a build with the gRPC API, reported by one without.
    let grpc = cfg!(feature = "grpc");
    assert_eq!(s.grpc_listen_addr, grpc.then(|| SocketAddr::from(([0, 0, 0, 0], 3593))));
    assert_eq!((s.max_resources, s.max_actions), (Some(30), Some(20)));
    assert_eq!(s.policies, Some(PathBuf::from("/srv/policies")));
    assert!(s.watch_for_changes && s.aux_data);
    assert_eq!(s.schema_enforcement, Some(SchemaEnforcement::Reject));
    assert_eq!(s.default_policy_version.as_deref(), Some("staging"));
    assert_eq!((s.lenient_scope_search, s.strict_evaluation), (Some(true), Some(true)));
    assert_eq!(
        s.globals.map(serde_json::Value::Object),
        Some(serde_json::json!({"environment": "production", "regions": ["eu", "us"]}))
    );
    assert_eq!(s.audit_log.as_deref(), Some("/var/log/decisions.log"));
    let ignored: Vec<&str> = s.ignored.iter().map(|i| i.split(':').next().unwrap_or_default()).collect();
    let mut want = vec!["server.grpcListenAddr", "server.cors", "audit.accessLogsEnabled", "telemetry"];
    if grpc {
        want.remove(0);
    }
    assert_eq!(ignored, want);
}

#[test]
fn what_authz_cannot_honour_is_an_error_naming_the_key() {
    let cases = [
        ("storage:\n  driver: git\n  git:\n    url: x\n", "storage.driver"),
        ("storage:\n  driver: disk\n", "storage.disk.directory"),
        ("server:\n  tls:\n    cert: /c.pem\n    key: /k.pem\n", "server.tls"),
        ("server:\n  httpListenAddr: unix:/tmp/cerbos.sock\n", "server.httpListenAddr"),
        ("schema:\n  enforcement: strict\n", "schema.enforcement"),
        ("engine:\n  lenientScopeSearch: maybe\n", "engine.lenientScopeSearch"),
        ("engine:\n  globals: [1]\n", "engine.globals"),
        ("server:\n  requestLimits:\n    maxResourcesPerRequest: 0\n", "server.requestLimits.maxResourcesPerRequest"),
        ("audit:\n  enabled: true\n  backend: kafka\n", "audit.backend"),
        ("[not, a, mapping]", "(file)"),
    ];
    for (text, key) in cases {
        match parse(text, "c.yaml") {
            Err(ConfigError::Invalid { message, .. }) => {
                assert!(message.starts_with(&format!("{key}: ")), "{text}: {message}")
            }
            other => unreachable!("{text}: {other:?}"),
        }
    }
}

#[test]
fn audit_is_off_unless_enabled_with_decision_logs() {
    let off = |text: &str| parse(text, "c.yaml").map(|s| s.audit_log.is_none()).unwrap_or(false);
    assert!(off("audit:\n  enabled: false\n  backend: kafka\n"));
    assert!(off("audit:\n  enabled: true\n  decisionLogsEnabled: false\n  backend: local\n"));
    let on = parse("audit:\n  enabled: true\n  backend: file\n", "c.yaml").map(|s| s.audit_log);
    assert_eq!(on.ok().flatten().as_deref(), Some("stdout"));
}

#[test]
fn sets_override_the_file_or_stand_alone() {
    let mut root = match yaml(FULL, "c.yaml") {
        Ok(r) => r,
        Err(e) => unreachable!("{e}"),
    };
    for set in [
        "schema.enforcement=warn",
        "engine.lenientScopeSearch=false",
        "server.requestLimits.maxResourcesPerRequest=7",
        "audit.enabled=false",
        "engine.defaultPolicyVersion=2024",
    ] {
        assert_eq!(apply_set(&mut root, set), Ok(()), "{set}");
    }
    let s = match settings(root, "c.yaml") {
        Ok(s) => s,
        Err(e) => unreachable!("{e}"),
    };
    assert_eq!(s.schema_enforcement, Some(SchemaEnforcement::Warn));
    assert_eq!((s.lenient_scope_search, s.max_resources, s.audit_log), (Some(false), Some(7), None));
    assert_eq!(s.default_policy_version.as_deref(), Some("2024"));
    assert_eq!(s.policies, Some(PathBuf::from("/srv/policies")), "what no --set names stays");
    let alone = read(
        None,
        &[
            "storage.driver=disk".into(),
            "storage.disk.directory=/p".into(),
            "server.httpListenAddr=127.0.0.1:9000".into(),
        ],
    );
    let alone = match alone {
        Ok(s) => s,
        Err(e) => unreachable!("{e}"),
    };
    assert_eq!(
        (alone.policies, alone.http_listen_addr),
        (Some(PathBuf::from("/p")), Some(SocketAddr::from(([127, 0, 0, 1], 9000))))
    );
    for bad in ["no-equals", "a..b=1", "=1"] {
        assert!(apply_set(&mut Value::Null, bad).is_err(), "{bad}");
    }
}
