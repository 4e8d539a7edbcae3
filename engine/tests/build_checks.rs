//! Mistakes that would make a DENY rule's condition error at run time (and so let the request
//! through) are build errors with their location, as Cerbos's compiler has them.

use authz_engine::{Bundle, Source};

/// A policy denying `delete` to everyone when `cond` holds, and allowing everything else.
fn deny_when(cond: &str) -> String {
    format!(
        r#"apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["*"]
      effect: EFFECT_ALLOW
      roles: ["*"]
    - actions: ["delete"]
      effect: EFFECT_DENY
      roles: ["*"]
      condition:
        match:
          expr: {cond}
"#
    )
}

/// The build errors of one policy file, as displayed.
fn errors(text: &str) -> Vec<String> {
    match Bundle::build(vec![Source::new("p.yaml", text)], None) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors().iter().map(ToString::to_string).collect(),
    }
}

fn assert_rejected(cond: &str, needle: &str) {
    let errs = errors(&deny_when(cond));
    assert!(
        errs.iter().any(|e| e.starts_with("p.yaml:14:17:") && e.contains(needle)),
        "`{cond}`: expected an error at p.yaml:14:17 containing `{needle}`, got {errs:?}"
    );
}

#[test]
fn unknown_functions_and_misspelled_macros_are_build_errors() {
    assert_rejected("isBlocked(P.id)", "undeclared reference to function `isBlocked(…)`");
    assert_rejected("P.attr.tags.exist(t, t == 'x')", "undeclared reference to function `.exist(…)`");
    assert_rejected("math.bogus(1, 2) > 1", "undeclared reference to function `.bogus(…)`");
}

#[test]
fn unknown_names_are_build_errors() {
    assert_rejected("principal.id == 'x'", "undeclared reference to `principal`");
    // The macro's variable is bound only inside it.
    assert_rejected("P.attr.tags.exists(t, t == 'x') && t == 'y'", "undeclared reference to `t`");
}

#[test]
fn invalid_regex_literals_are_build_errors() {
    assert_rejected("R.attr.name.matches('(a')", "invalid regular expression `(a`");
    assert_rejected("matches(R.attr.name, '\\\\p{L}+')", "invalid regular expression");
    assert_rejected("regex.replace(R.attr.name, '[', 'x') == 'y'", "invalid regular expression `[`");
}

#[test]
fn what_cerbos_accepts_still_builds() {
    for cond in [
        "P.attr.tags.exists(t, t == 'x') && R.attr.n > 1",
        "request.principal.id == request.resource.attr.owner",
        "math.greatest(1, 2) == 2 && 'ab'.contains('a') && size(P.roles) > 0",
        "regex.replace(R.attr.name, 'a+', 'b') == 'b' && R.attr.name.matches('^[a-z]+$')",
        "type(R.attr.n) == int && string(1) == '1' && duration('1h') > duration('1m')",
        "cel.bind(x, R.attr.n, x > 1) && [1, 2].map(y, y * 2)[0] == 2",
        "now() > timestamp('2020-01-01T00:00:00Z') && timestamp(R.attr.t).getHours('Europe/Paris') > 1",
        "hierarchy(R.attr.path).ancestorOf(hierarchy('a.b.c')) && G.x == V.y",
        "R.attr.ip.inIPAddrRange('10.0.0.0/8') && optional.of(1).hasValue() && runtime.effectiveDerivedRoles.size() > 0",
    ] {
        let text = deny_when(cond).replace(
            "  rules:\n",
            "  variables:\n    local:\n      y: \"1\"\n  rules:\n",
        );
        assert_eq!(errors(&text), Vec::<String>::new(), "`{cond}`");
    }
}

#[test]
fn empty_action_lists_are_build_errors() {
    let text = deny_when("true").replace("- actions: [\"delete\"]", "- actions: []");
    let errs = errors(&text);
    assert!(errs.iter().any(|e| e.contains("rule has no actions")), "{errs:?}");
}

#[test]
fn bad_escapes_are_build_errors() {
    assert_rejected("R.attr.name == '\\q'", "invalid expression");
    assert_rejected("R.attr.name == \"\\q\"", "invalid expression");
    // A regex escape RE2 does not have.
    assert_rejected("R.attr.name.matches('\\\\q')", "invalid regular expression `\\q`");
}

#[test]
fn case_insensitive_patterns_fold_as_re2_or_do_not_build() {
    assert_rejected("R.attr.name.matches('(?i)caf\u{e9}')", "non-ASCII letter `\u{e9}`");
    let text = deny_when("R.attr.name.matches('(?i)^kelvin$')");
    let bundle = Bundle::build(vec![Source::new("p.yaml", text)], None).unwrap();
    // KELVIN SIGN folds to `k` in RE2 (Cerbos): the DENY applies to it.
    for name in ["kelvin", "KELVIN", "\u{212A}elvin"] {
        let input: authz_engine::CheckInput = serde_json::from_value(serde_json::json!({
            "principal": {"id": "a", "roles": ["user"]},
            "resource": {"kind": "doc", "id": "1", "attr": {"name": name}},
            "actions": ["delete"],
        }))
        .unwrap();
        let out = bundle.check(&authz_engine::CheckOptions::default(), &[input]);
        assert_eq!(out[0].actions["delete"].effect, authz_engine::Effect::Deny, "{name}");
    }
}

#[test]
fn deep_bracket_nesting_is_refused_before_parsing() {
    // 100,000 levels took the YAML parser 37 s; refused at once, with where.
    let text = format!("apiVersion: api.cerbos.dev/v1\nx: {}", "[".repeat(100_000));
    assert_eq!(errors(&text), ["p.yaml:2:68: brackets nest more than 64 levels deep"]);
}
