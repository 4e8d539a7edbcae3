//! Timestamp getters with a time zone read the bundle's own zone table: the zones a policy
//! names are compiled in (all of them when a condition computes its zone), an unknown zone
//! name is a build error at its line, and an unknown zone at run time fails closed.

use authz_engine::Effect;
use authz_engine::{Bundle, CheckInput, CheckOptions, Source};

fn policy(expr: &str) -> String {
    format!(
        r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["t"]
      roles: ["*"]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: {expr}
"#
    )
}

fn build(expr: &str) -> Result<Bundle, authz_engine::BuildErrors> {
    Bundle::build(vec![Source::new("p.yaml", policy(expr))], None)
}

/// The effect and evaluation errors for a resource with attributes `at` and `tz`.
fn decide(bundle: &Bundle, at: &str, tz: &str) -> (Effect, Vec<String>) {
    let input: CheckInput = serde_json::from_value(serde_json::json!({
        "principal": {"id": "alice", "roles": ["user"]},
        "resource": {"kind": "doc", "id": "d1", "attr": {"at": at, "tz": tz}},
        "actions": ["t"],
    }))
    .unwrap_or_default();
    let out = bundle.check(&CheckOptions::default(), &[input]).into_iter().next();
    let effect = out.as_ref().and_then(|o| o.actions.get("t")).map(|a| a.effect).unwrap_or(Effect::Deny);
    let errors = out.map(|o| o.evaluation_errors.into_iter().map(|e| e.message).collect()).unwrap_or_default();
    (effect, errors)
}

#[test]
fn a_named_zone_is_compiled_in_and_survives_serialization() {
    // New York is UTC-4 in July (EDT) and UTC-5 in January (EST).
    let built = build(r#"timestamp(R.attr.at).getHours("America/New_York") == 8"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(built.time_zone_count(), 1);
    let loaded = Bundle::from_bytes(&built.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
    for bundle in [&built, &loaded] {
        assert_eq!(decide(bundle, "2024-07-01T12:00:00Z", "").0, Effect::Allow);
        assert_eq!(decide(bundle, "2024-01-15T12:00:00Z", "").0, Effect::Deny);
        // The US moved the start of daylight saving time in 2007.
        assert_eq!(decide(bundle, "2006-03-20T12:00:00Z", "").0, Effect::Deny);
        assert_eq!(decide(bundle, "2007-03-20T12:00:00Z", "").0, Effect::Allow);
    }
}

#[test]
fn every_getter_takes_a_zone() {
    // 2024-01-01T00:30:00Z is Monday 09:30 in Tokyo (UTC+9), Sunday 19:30 in New York.
    let exprs = [
        r#"timestamp(R.attr.at).getFullYear("Asia/Tokyo") == 2024 && timestamp(R.attr.at).getFullYear("America/New_York") == 2023"#,
        r#"timestamp(R.attr.at).getMonth("America/New_York") == 11"#,
        r#"timestamp(R.attr.at).getDayOfYear("America/New_York") == 364"#,
        r#"timestamp(R.attr.at).getDayOfMonth("America/New_York") == 30"#,
        r#"timestamp(R.attr.at).getDate("America/New_York") == 31"#,
        r#"timestamp(R.attr.at).getDayOfWeek("Asia/Tokyo") == 1 && timestamp(R.attr.at).getDayOfWeek("America/New_York") == 0"#,
        r#"timestamp(R.attr.at).getHours("Asia/Tokyo") == 9"#,
        r#"timestamp(R.attr.at).getMinutes("Asia/Kolkata") == 0"#,
        r#"timestamp(R.attr.at).getSeconds("+05:30") == 0 && timestamp(R.attr.at).getHours("+05:30") == 6"#,
        r#"timestamp(R.attr.at).getMilliseconds("UTC") == 0 && timestamp(R.attr.at).getHours("") == 0"#,
        r#"timestamp(R.attr.at).getHours() == 0"#,
    ];
    for expr in exprs {
        let bundle = build(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(decide(&bundle, "2024-01-01T00:30:00Z", ""), (Effect::Allow, vec![]), "{expr}");
    }
}

#[test]
fn a_computed_zone_makes_the_bundle_carry_every_zone() {
    let bundle = build("timestamp(R.attr.at).getHours(R.attr.tz) == 14").unwrap_or_else(|e| panic!("{e}"));
    assert!(bundle.time_zone_count() > 400, "{}", bundle.time_zone_count());
    assert_eq!(decide(&bundle, "2024-07-01T12:00:00Z", "Europe/Paris").0, Effect::Allow);
    assert_eq!(decide(&bundle, "2024-07-01T12:00:00Z", "Europe/London").0, Effect::Deny);
    let (effect, errors) = decide(&bundle, "2024-07-01T12:00:00Z", "Mars/Olympus_Mons");
    assert_eq!(effect, Effect::Deny);
    assert!(errors.iter().any(|e| e.contains("unknown time zone Mars/Olympus_Mons")), "{errors:?}");
}

#[test]
fn an_unknown_zone_name_is_a_build_error_at_its_line() {
    let err = match build(r#"timestamp(R.attr.at).getHours("Europe/Pariss") == 8"#) {
        Ok(_) => panic!("an unknown zone built"),
        Err(e) => e,
    };
    let found = err.errors().iter().find(|e| e.to_string().contains("unknown time zone `Europe/Pariss`"));
    let found = found.unwrap_or_else(|| panic!("{err}"));
    assert_eq!((found.location().file(), found.location().line()), ("p.yaml", 11));
}

#[test]
fn a_bundle_without_zone_arguments_carries_no_zones() {
    let bundle = build("timestamp(R.attr.at).getHours() == 12").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bundle.time_zone_count(), 0);
    assert_eq!(decide(&bundle, "2024-07-01T12:00:00Z", "").0, Effect::Allow);
}

#[test]
fn a_bundle_reads_the_clock_only_when_an_expression_calls_now_or_time_since() {
    for (expr, reads) in [
        ("R.attr.known == true", false),
        (r#"P.attr.when == "now()""#, false),
        (r#"now() > timestamp("2020-01-01T00:00:00Z")"#, true),
        (r#"timestamp(R.attr.at).timeSince() > duration("1h")"#, true),
        (r#"[1, 2].all(x, now() > timestamp("2020-01-01T00:00:00Z"))"#, true),
    ] {
        let built = build(&format!("'{expr}'")).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(built.reads_clock(), reads, "{expr}");
        let loaded = Bundle::from_bytes(&built.to_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.reads_clock(), reads, "{expr}, after serialization");
    }
    // A variable or an output that reads it counts as much as a condition.
    let with = |section: &str| {
        let text = format!(
            r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
{section}
"#
        );
        Bundle::build(vec![Source::new("p.yaml", text)], None).unwrap_or_else(|e| panic!("{section}: {e}"))
    };
    let variable = with(
        "  variables:\n    local:\n      t: now()\n  rules:\n    - actions: [t]\n      roles: ['*']\n      effect: EFFECT_ALLOW\n      condition:\n        match:\n          expr: V.t != null",
    );
    assert!(variable.reads_clock());
    let output = with(
        "  rules:\n    - actions: [t]\n      roles: ['*']\n      effect: EFFECT_ALLOW\n      output:\n        when:\n          ruleActivated: now()",
    );
    assert!(output.reads_clock());
    let neither = with("  rules:\n    - actions: [t]\n      roles: ['*']\n      effect: EFFECT_ALLOW");
    assert!(!neither.reads_clock());
}
