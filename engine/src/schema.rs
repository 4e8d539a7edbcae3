//! Validation of request attributes against the JSON schemas a resource policy
//! names: a compact JSON Schema (2020-12) validator covering the keywords policies
//! use, with `$ref`s resolved when the bundle is built.

use crate::glob::Glob;
use crate::table::Table;
use authz_api::model::{CheckInput, SchemaEnforcement, ValidationError};
use serde_json::Value;
use std::collections::HashMap;

/// How deep `$ref`s and nesting may go before a schema is rejected as cyclic.
const MAX_DEPTH: usize = 64;

/// Resolves a `$ref` found in schema `base` to a (file, JSON pointer) pair.
fn resolve_ref(base: &str, r: &str) -> (String, String) {
    let (file, frag) = r.split_once('#').unwrap_or((r, ""));
    let file = if file.is_empty() {
        base.to_string()
    } else if let Some(p) = file.strip_prefix("cerbos:///") {
        p.to_string()
    } else if let Some(p) = file.strip_prefix('/') {
        p.to_string()
    } else {
        match base.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{file}"),
            None => file.to_string(),
        }
    };
    (file, frag.to_string())
}

/// Checks that every `$ref` reachable from `path` resolves; returns the first problem.
pub(crate) fn check_refs(files: &HashMap<String, Value>, path: &str) -> Result<(), String> {
    let mut stack = vec![(path.to_string(), String::new(), 0usize)];
    let mut seen = std::collections::HashSet::new();
    while let Some((file, ptr, depth)) = stack.pop() {
        if depth > MAX_DEPTH || !seen.insert((file.clone(), ptr.clone())) {
            continue;
        }
        let doc = files.get(&file).ok_or_else(|| format!("schema _schemas/{file} doesn't exist"))?;
        let node = doc.pointer(&ptr).ok_or_else(|| format!("no `#{ptr}` in _schemas/{file}"))?;
        let mut refs = Vec::new();
        collect_refs(node, &mut refs);
        for r in refs {
            if !(r.starts_with("cerbos:///") || r.starts_with('#') || !r.contains("://")) {
                return Err(format!("unsupported $ref `{r}` in _schemas/{file}: only cerbos:/// and relative refs"));
            }
            let (f, p) = resolve_ref(&file, &r);
            stack.push((f, p, depth + 1));
        }
    }
    Ok(())
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => collect_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

/// A numeric keyword, its test and the operator shown in messages.
type Bound = (&'static str, fn(f64, f64) -> bool, &'static str);

struct Validator<'a> {
    files: &'a HashMap<String, Value>,
    errors: Vec<(String, String)>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        other => type_name(v) == other,
    }
}

fn ptr(path: &str, seg: &str) -> String {
    let seg = seg.replace('~', "~0").replace('/', "~1");
    if path == "/" {
        format!("/{seg}")
    } else {
        format!("{path}/{seg}")
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

impl Validator<'_> {
    fn err(&mut self, path: &str, msg: String) {
        self.errors.push((path.to_string(), msg));
    }

    fn validate(&mut self, file: &str, schema: &Value, v: &Value, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.err(path, "schema nesting too deep".into());
            return;
        }
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return self.err(path, "not allowed".into()),
            Value::Object(s) => s,
            _ => return,
        };
        if let Some(Value::String(r)) = s.get("$ref") {
            let (f, p) = resolve_ref(file, r);
            if let Some(target) = self.files.get(&f).and_then(|d| d.pointer(&p)) {
                self.validate(&f, target, v, path, depth + 1);
            } else {
                self.err(path, format!("unresolvable $ref `{r}`"));
            }
        }
        if let Some(t) = s.get("type") {
            let ok = match t {
                Value::String(t) => is_type(v, t),
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| is_type(v, t)),
                _ => true,
            };
            if !ok {
                let want = match t {
                    Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
                    other => other.as_str().unwrap_or_default().to_string(),
                };
                let got = if type_name(v) == "integer" { "number" } else { type_name(v) };
                return self.err(path, format!("expected {want}, but got {got}"));
            }
        }
        if let Some(Value::Array(options)) = s.get("enum") {
            if !options.contains(v) {
                // JSON-encoded, as Cerbos's validator writes them: `value must be one of "a", "b"`.
                let list: Vec<String> = options.iter().map(Value::to_string).collect();
                self.err(path, format!("value must be one of {}", list.join(", ")));
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                self.err(path, format!("value must be {c}"));
            }
        }
        self.combinators(file, s, v, path, depth);
        match v {
            Value::Object(m) => self.object(file, s, m, path, depth),
            Value::Array(a) => self.array(file, s, a, path, depth),
            Value::String(text) => self.string(s, text, path),
            Value::Number(_) => self.number(s, v, path),
            _ => {}
        }
    }

    /// `allOf`, `anyOf`, `oneOf` and `not`: each subschema validated on its own.
    fn combinators(&mut self, file: &str, s: &serde_json::Map<String, Value>, v: &Value, path: &str, depth: usize) {
        for key in ["allOf", "anyOf", "oneOf"] {
            let Some(Value::Array(subs)) = s.get(key) else { continue };
            let passing = subs
                .iter()
                .filter(|sub| {
                    let mut inner = Validator { files: self.files, errors: Vec::new() };
                    inner.validate(file, sub, v, path, depth + 1);
                    inner.errors.is_empty()
                })
                .count();
            let ok = match key {
                "allOf" => passing == subs.len(),
                "anyOf" => passing > 0,
                _ => passing == 1,
            };
            if !ok {
                self.err(path, format!("{key} failed"));
            }
        }
        if let Some(not) = s.get("not") {
            let mut inner = Validator { files: self.files, errors: Vec::new() };
            inner.validate(file, not, v, path, depth + 1);
            if inner.errors.is_empty() {
                self.err(path, "not failed".into());
            }
        }
    }

    /// `items`, `minItems`, `maxItems`.
    fn array(&mut self, file: &str, s: &serde_json::Map<String, Value>, a: &[Value], path: &str, depth: usize) {
        if let Some(items) = s.get("items") {
            for (i, x) in a.iter().enumerate() {
                self.validate(file, items, x, &ptr(path, &i.to_string()), depth + 1);
            }
        }
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if (a.len() as u64) < min {
                self.err(path, format!("minimum {min} items required, but found {} items", a.len()));
            }
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if (a.len() as u64) > max {
                self.err(path, format!("maximum {max} items required, but found {} items", a.len()));
            }
        }
    }

    /// `minLength`, `maxLength`, `pattern`, `format: date-time`.
    fn string(&mut self, s: &serde_json::Map<String, Value>, text: &str, path: &str) {
        let len = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
            if len < min {
                self.err(path, format!("length must be >= {min}, but got {len}"));
            }
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            if len > max {
                self.err(path, format!("length must be <= {max}, but got {len}"));
            }
        }
        if let Some(Value::String(p)) = s.get("pattern") {
            match regex_lite::Regex::new(p) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => self.err(path, format!("does not match pattern '{p}'")),
                // A pattern the engine cannot run must not let every value through.
                Err(e) => self.err(path, format!("pattern '{p}' is not supported: {e}")),
            }
        }
        if s.get("format").and_then(Value::as_str) == Some("date-time")
            && chrono::DateTime::parse_from_rfc3339(text).is_err()
        {
            self.err(path, format!("'{text}' is not valid 'date-time'"));
        }
    }

    fn number(&mut self, s: &serde_json::Map<String, Value>, v: &Value, path: &str) {
        let Some(x) = num(v) else { return };
        let checks: [Bound; 4] = [
            ("minimum", |x, b| x >= b, ">="),
            ("maximum", |x, b| x <= b, "<="),
            ("exclusiveMinimum", |x, b| x > b, ">"),
            ("exclusiveMaximum", |x, b| x < b, "<"),
        ];
        for (key, ok, op) in checks {
            if let Some(bound) = s.get(key).and_then(num) {
                if !ok(x, bound) {
                    self.err(path, format!("must be {op} {bound} but found {x}"));
                }
            }
        }
        if let Some(m) = s.get("multipleOf").and_then(num) {
            if m > 0.0 && (x / m).fract() != 0.0 {
                self.err(path, format!("{x} not multipleOf {m}"));
            }
        }
    }

    fn object(
        &mut self,
        file: &str,
        s: &serde_json::Map<String, Value>,
        m: &serde_json::Map<String, Value>,
        path: &str,
        depth: usize,
    ) {
        if let Some(Value::Array(req)) = s.get("required") {
            let missing: Vec<String> = req
                .iter()
                .filter_map(Value::as_str)
                .filter(|k| !m.contains_key(*k))
                .map(|k| format!("'{k}'"))
                .collect();
            if !missing.is_empty() {
                self.err(path, format!("missing properties: {}", missing.join(", ")));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in m {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => self.validate(file, sub, x, &ptr(path, k), depth + 1),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => self.err(path, format!("additionalProperties '{k}' not allowed")),
                    Some(sub @ Value::Object(_)) => self.validate(file, sub, x, &ptr(path, k), depth + 1),
                    _ => {}
                },
            }
        }
    }
}

/// Validates attributes against the schema at `path`; returns (JSON pointer, message) pairs.
pub(crate) fn validate_value(files: &HashMap<String, Value>, path: &str, v: &Value) -> Vec<(String, String)> {
    let mut val = Validator { files, errors: Vec::new() };
    match files.get(path) {
        Some(schema) => val.validate(path, schema, v, "/", 0),
        None => val.err("/", format!("schema _schemas/{path} doesn't exist")),
    }
    val.errors
}

fn all_ignored(ignore: &[Glob], actions: &[String]) -> bool {
    !ignore.is_empty() && !actions.is_empty() && actions.iter().all(|a| ignore.iter().any(|g| g.matches(a)))
}

/// The violations, and whether they reject the request; `None` when not checked.
pub(crate) fn validate(
    table: &Table,
    policy_key: &str,
    input: &CheckInput,
    enforcement: SchemaEnforcement,
) -> Option<(Vec<ValidationError>, bool)> {
    validate_with(table, policy_key, input, enforcement, false)
}

/// As [`validate`], for a plan: the resource's attributes are those known, so a required one
/// that is missing is no violation (the filter covers it).
pub(crate) fn validate_known(
    table: &Table,
    policy_key: &str,
    input: &CheckInput,
    enforcement: SchemaEnforcement,
) -> Option<(Vec<ValidationError>, bool)> {
    validate_with(table, policy_key, input, enforcement, true)
}

fn validate_with(
    table: &Table,
    policy_key: &str,
    input: &CheckInput,
    enforcement: SchemaEnforcement,
    partial_resource: bool,
) -> Option<(Vec<ValidationError>, bool)> {
    if enforcement == SchemaEnforcement::None {
        return None;
    }
    let refs = table.schemas.get(policy_key)?;
    let mut errors = Vec::new();
    let sources = [
        (&refs.principal, &input.principal.attr, "SOURCE_PRINCIPAL"),
        (&refs.resource, &input.resource.attr, "SOURCE_RESOURCE"),
    ];
    for (r, attr, source) in sources {
        let Some((path, ignore)) = r else { continue };
        if all_ignored(ignore, &input.actions) {
            continue;
        }
        let v = Value::Object(attr.clone());
        for (p, message) in validate_value(&table.schema_docs, path, &v) {
            if partial_resource && source == "SOURCE_RESOURCE" && message.starts_with("missing properties") {
                continue;
            }
            errors.push(ValidationError { path: p, message, source: source.into() });
        }
    }
    if errors.is_empty() {
        return None;
    }
    Some((errors, enforcement == SchemaEnforcement::Reject))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test")]
mod tests {
    use super::validate_value;
    use serde_json::json;
    use std::collections::HashMap;

    fn errors(pattern: &str, text: &str) -> Vec<(String, String)> {
        let schema = json!({"type": "object", "properties": {"id": {"type": "string", "pattern": pattern}}});
        let files = HashMap::from([("s.json".to_string(), schema)]);
        validate_value(&files, "s.json", &json!({ "id": text }))
    }

    #[test]
    fn a_pattern_that_cannot_be_run_rejects_the_value_instead_of_passing_it() {
        assert!(errors("^[a-z]+$", "abc").is_empty());
        assert_eq!(errors("^[a-z]+$", "ABC").len(), 1);
        let e = errors("^\\p{L}+$", "abc");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].1.contains("not supported"), "{e:?}");
    }
}
