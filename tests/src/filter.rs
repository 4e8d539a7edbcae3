//! Evaluating a plan's filter condition over one resource, as a database adapter would apply
//! it: what the plan-versus-check property compares with the engine's checks. Written apart
//! from the engine (it reads Cerbos's filter operators, not CEL), so that the two can disagree.
//!
//! A name that is not there (an absent attribute) and an operator applied to values it does
//! not take are errors, as they are in CEL: an error is not true, and `and`/`or` absorb it as
//! CEL's do (`false && error` is false, `true || error` true).

use authz_api::plan::Operand;
use serde_json::Value;

/// A value, or an error.
type V = Option<Value>;

/// What a condition's names refer to: the resource, and the lambda parameters in scope.
pub struct Resource<'a> {
    /// `request.resource.id`.
    pub id: &'a str,
    /// `request.resource.attr`.
    pub attr: &'a serde_json::Map<String, Value>,
}

/// Whether `condition` holds for `resource` (an error does not hold).
pub fn holds(condition: &Operand, resource: &Resource<'_>) -> bool {
    eval(condition, resource, &mut Vec::new()) == Some(Value::Bool(true))
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// CEL's equality over JSON values: numbers by value, lists and maps element by element.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num(a).zip(num(b)).is_some_and(|(p, q)| p == q) || x == y,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| equal(p, q)))
        }
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => num(a)?.partial_cmp(&num(b)?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn lookup(name: &str, r: &Resource<'_>, scope: &[(String, Value)]) -> V {
    let mut parts = name.split('.');
    let first = parts.next()?;
    let mut cur: Value = match scope.iter().rev().find(|(n, _)| n == first) {
        Some((_, v)) => v.clone(),
        None => {
            let (Some("resource"), Some(field)) = (parts.next(), parts.next()) else { return None };
            if first != "request" {
                return None;
            }
            match field {
                "id" => Value::String(r.id.to_string()),
                "attr" => Value::Object(r.attr.clone()),
                _ => return None,
            }
        }
    };
    for p in parts {
        cur = cur.as_object()?.get(p)?.clone();
    }
    Some(cur)
}

fn items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::Object(m) => Some(m.keys().map(|k| Value::String(k.clone())).collect()),
        _ => None,
    }
}

fn eval(o: &Operand, r: &Resource<'_>, scope: &mut Vec<(String, Value)>) -> V {
    let e = match o {
        Operand::Value(v) => return Some(v.clone()),
        Operand::Variable(name) => return lookup(name, r, scope),
        Operand::Expression(e) => e,
    };
    let ops = &e.operands;
    let arg = |i: usize, scope: &mut Vec<(String, Value)>| ops.get(i).and_then(|o| eval(o, r, scope));
    match e.operator.as_str() {
        "and" | "or" => {
            let absorbing = e.operator == "or";
            let mut error = false;
            for o in ops {
                match eval(o, r, scope) {
                    Some(Value::Bool(b)) if b == absorbing => return Some(Value::Bool(b)),
                    Some(Value::Bool(_)) => {}
                    _ => error = true,
                }
            }
            (!error).then_some(Value::Bool(!absorbing))
        }
        "not" => Some(Value::Bool(!arg(0, scope)?.as_bool()?)),
        "if" => match arg(0, scope)?.as_bool()? {
            true => arg(1, scope),
            false => arg(2, scope),
        },
        "eq" => Some(Value::Bool(equal(&arg(0, scope)?, &arg(1, scope)?))),
        "ne" => Some(Value::Bool(!equal(&arg(0, scope)?, &arg(1, scope)?))),
        op @ ("lt" | "le" | "gt" | "ge") => {
            let ord = order(&arg(0, scope)?, &arg(1, scope)?)?;
            Some(Value::Bool(match op {
                "lt" => ord.is_lt(),
                "le" => ord.is_le(),
                "gt" => ord.is_gt(),
                _ => ord.is_ge(),
            }))
        }
        "in" => {
            let (x, coll) = (arg(0, scope)?, arg(1, scope)?);
            match coll {
                Value::Array(a) => Some(Value::Bool(a.iter().any(|y| equal(&x, y)))),
                Value::Object(m) => Some(Value::Bool(m.contains_key(x.as_str()?))),
                _ => None,
            }
        }
        "add" => match (arg(0, scope)?, arg(1, scope)?) {
            (Value::Array(mut a), Value::Array(b)) => {
                a.extend(b);
                Some(Value::Array(a))
            }
            (Value::String(a), Value::String(b)) => Some(Value::String(a + &b)),
            (a @ Value::Number(_), b @ Value::Number(_)) => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => x.checked_add(y).map(Value::from),
                _ => Some(Value::from(num(&a)? + num(&b)?)),
            },
            _ => None,
        },
        "index" => match (arg(0, scope)?, arg(1, scope)?) {
            (Value::Array(a), i) => a.get(usize::try_from(i.as_i64()?).ok()?).cloned(),
            (Value::Object(m), k) => m.get(k.as_str()?).cloned(),
            _ => None,
        },
        "size" => match arg(0, scope)? {
            Value::Array(a) => Some(Value::from(a.len())),
            Value::Object(m) => Some(Value::from(m.len())),
            Value::String(s) => Some(Value::from(s.chars().count())),
            _ => None,
        },
        f @ ("startsWith" | "endsWith" | "contains") => {
            let (s, x) = (arg(0, scope)?, arg(1, scope)?);
            let (s, x) = (s.as_str()?, x.as_str()?);
            Some(Value::Bool(match f {
                "startsWith" => s.starts_with(x),
                "endsWith" => s.ends_with(x),
                _ => s.contains(x),
            }))
        }
        kind @ ("exists" | "all" | "exists_one" | "map" | "filter") => {
            let range = items(&arg(0, scope)?)?;
            let Some(Operand::Expression(lambda)) = ops.get(1) else { return None };
            let (body, vars) = lambda.operands.split_first()?;
            let names: Vec<String> =
                vars.iter().filter_map(|v| if let Operand::Variable(n) = v { Some(n.clone()) } else { None }).collect();
            let mut results = Vec::with_capacity(range.len());
            let source = arg(0, scope)?;
            for (i, item) in range.iter().enumerate() {
                let bound: Vec<(String, Value)> = match names.as_slice() {
                    [v] => vec![(v.clone(), item.clone())],
                    [k, v] => {
                        let value = match &source {
                            Value::Object(m) => m.get(item.as_str()?)?.clone(),
                            _ => item.clone(),
                        };
                        let key = if source.is_object() { item.clone() } else { Value::from(i) };
                        vec![(k.clone(), key), (v.clone(), value)]
                    }
                    _ => return None,
                };
                let n = scope.len();
                scope.extend(bound);
                let result = eval(body, r, scope);
                scope.truncate(n);
                results.push((item.clone(), result));
            }
            let truth = |v: &V| v.as_ref().and_then(Value::as_bool);
            match kind {
                "exists" => {
                    if results.iter().any(|(_, v)| truth(v) == Some(true)) {
                        Some(Value::Bool(true))
                    } else {
                        results.iter().all(|(_, v)| truth(v).is_some()).then_some(Value::Bool(false))
                    }
                }
                "all" => {
                    if results.iter().any(|(_, v)| truth(v) == Some(false)) {
                        Some(Value::Bool(false))
                    } else {
                        results.iter().all(|(_, v)| truth(v).is_some()).then_some(Value::Bool(true))
                    }
                }
                "exists_one" => {
                    let mut count = 0;
                    for (_, v) in &results {
                        count += usize::from(truth(v)?);
                    }
                    Some(Value::Bool(count == 1))
                }
                "map" => results.into_iter().map(|(_, v)| v).collect::<Option<Vec<_>>>().map(Value::Array),
                _ => {
                    let mut kept = Vec::new();
                    for (item, v) in results {
                        if truth(&v)? {
                            kept.push(item);
                        }
                    }
                    Some(Value::Array(kept))
                }
            }
        }
        _ => None,
    }
}
