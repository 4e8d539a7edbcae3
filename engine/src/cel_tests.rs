use crate::cel::{from_json, runtime};
use cel::Value;

fn eval(src: &str) -> Value {
    let rt = runtime().unwrap();
    let expr = rt.compile(src).unwrap();
    let mut refs = super::cel::tz::ZoneRefs::default();
    refs.add(expr.ast()).unwrap();
    let mut ctx = rt.scope();
    let zones: std::sync::Arc<dyn cel::objects::Opaque> = std::sync::Arc::new(super::cel::tz::Zones::from_refs(&refs));
    ctx.add_variable_from_value(super::cel::tz::ZONES_VAR, Value::Opaque(zones));
    ctx.add_variable_from_value(
        "@now",
        Value::Timestamp(chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").unwrap()),
    );
    ctx.add_variable_from_value(
        "P",
        from_json(&serde_json::json!({"attr": {"teams": ["a", "b"], "n": 5, "x": [1,2,3]}})),
    );
    expr.eval(&ctx).unwrap_or_else(|e| Value::String(std::sync::Arc::new(format!("ERR {e}"))))
}

#[test]
#[allow(clippy::unwrap_used)]
fn smoke() {
    for (src, want) in [
        ("1 < 1.5", true),
        ("5 == 5.0", true),
        ("P.attr.n > 4.5", true),
        ("[1,2].all(i, v, v > i)", true),
        ("{'a': 1}.exists(k, v, k == 'a' && v == 1)", true),
        ("[1, 2, 3].transformList(i, v, i * v + v) == [1, 4, 9]", true),
        ("[1, 2, 3].transformMap(i, v, i % 2 == 0, i * v + v) == {0: 1, 2: 9}", true),
        ("{'g': 'h'}.transformMapEntry(k, v, {v: k}) == {'h': 'g'}", true),
        ("cel.bind(x, 2, x * x) == 4", true),
        ("now() == timestamp('2024-01-01T00:00:00Z')", true),
        ("timestamp('2023-12-31T00:00:00Z').timeSince() == duration('24h')", true),
        ("hierarchy('a.b').ancestorOf(hierarchy('a.b.c'))", true),
        ("'10.20.0.1'.inIPAddrRange('10.20.0.0/16')", true),
        ("regex.replace('banana', 'a', 'i') == 'binini'", true),
        ("regex.extract('hello world', 'hello(.*)') == optional.of(' world')", true),
        ("sets.contains([1,2],[2])", true),
        ("cidr('192.168.1.7/24').masked() == cidr('192.168.1.0/24')", true),
        ("cidr('2001:db8::1/32').masked() == cidr('2001:db8::/32')", true),
        ("P.attr.teams.except(['a']) == ['b']", true),
        ("'%s-%d'.format(['a', 1]) == 'a-1'", true),
        ("spiffeID('spiffe://example.org/ns/x').isMemberOf(spiffeTrustDomain('example.org'))", true),
        (
            "spiffeMatchTrustDomain(spiffeTrustDomain('example.org')).matchesID(spiffeID('spiffe://example.org/a'))",
            true,
        ),
    ] {
        assert_eq!(eval(src), Value::Bool(want), "{src}");
    }
}

/// `matches` follows RE2 (cel-go's dialect): Perl classes and word boundaries are ASCII, so
/// a Unicode digit is not `\d`; Unicode classes are refused with an error rather than matched
/// differently, so a condition using one fails closed.
#[test]
fn matches_speaks_re2_and_refuses_what_it_cannot_match() {
    for (src, want) in [
        ("'foobar'.matches('^[a-z]+$')", true),
        ("matches('foo1', '^[a-z]+$')", false),
        ("'x-42'.matches('\\\\d+')", true),
        // ARABIC-INDIC DIGIT THREE: RE2's \d is [0-9].
        ("'\u{663}'.matches('^\\\\d$')", false),
        ("'\u{3b4}'.matches('^\\\\w$')", false),
        ("'ABC'.matches('(?i)^abc$')", true),
    ] {
        assert_eq!(eval(src), Value::Bool(want), "{src}");
    }
    for src in ["'abc'.matches('\\\\p{L}')", "'abc'.matches('(a')"] {
        match eval(src) {
            Value::String(s) => assert!(s.starts_with("ERR ") && s.contains("matches"), "{src}: {s}"),
            other => panic!("{src} evaluated to {other:?}, expected an error"),
        }
    }
}
