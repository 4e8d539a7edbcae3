//! Functions called with a namespace (`regex.replace`, `sets.contains`,
//! `ip.isCanonical`): these must be environment overloads for the `cel` crate to
//! resolve the dotted name, so they are written against [`Value`] and adapted.

use cel::common::types::{CelOptional, CelString, DYN_TYPE, INT_TYPE, LIST_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError, Value};
use std::sync::Arc;

type Res = Result<Value, ExecutionError>;

fn to_values(args: &[CowVal<'_, '_>]) -> Result<Vec<Value>, ExecutionError> {
    args.iter().map(|a| Value::try_from(a.as_ref())).collect()
}

macro_rules! overload {
    ($env:expr, $name:expr, $id:expr, $types:expr, $f:path) => {{
        fn wrapper<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
            let out = $f(to_values(&args)?)?;
            let boxed: Box<dyn Val> = Box::<dyn Val>::try_from(out)?;
            Ok(CowVal::Owned(boxed))
        }
        $env.add_overload($name, $id, $types, wrapper)
    }};
}

fn strs(name: &str, args: &[Value]) -> Result<Vec<Arc<String>>, ExecutionError> {
    args.iter()
        .map(|a| match a {
            Value::String(s) => Ok(s.clone()),
            _ => Err(ExecutionError::function_error(name, "expected string arguments")),
        })
        .collect()
}

/// Compiles a pattern with the engine's one regex implementation (see `matches` in
/// `functions.rs` for the dialect).
pub(super) fn compile(name: &str, re: &str) -> Result<regex_lite::Regex, ExecutionError> {
    let re = super::re2::translate(re).map_err(|e| ExecutionError::function_error(name, e))?;
    regex_lite::Regex::new(&re).map_err(|e| ExecutionError::function_error(name, e))
}

/// Turns Go's `\1` group references into the regex crate's `${1}`.
fn go_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(d)) if d.is_ascii_digit() => {
                out.push_str(&format!("${{{d}}}"));
                chars.next();
            }
            ('\\', Some('\\')) => {
                out.push('\\');
                chars.next();
            }
            ('$', _) => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out
}

fn regex_replace(args: Vec<Value>) -> Res {
    let n = match args.get(3) {
        Some(Value::Int(n)) => *n,
        _ => -1,
    };
    let s = strs("regex.replace", args.get(..3).unwrap_or_default())?;
    let [text, re, rep] = s.as_slice() else {
        return Err(ExecutionError::function_error("regex.replace", "expected 3 or 4 arguments"));
    };
    let re = compile("regex.replace", re)?;
    let rep = go_replacement(rep);
    let limit = if n < 0 { 0 } else { usize::try_from(n).unwrap_or(usize::MAX) };
    if n == 0 {
        return Ok(Value::String(text.clone()));
    }
    Ok(Value::from(re.replacen(text, limit, rep.as_str()).into_owned()))
}

fn regex_extract_all(args: Vec<Value>) -> Res {
    let s = strs("regex.extractAll", &args)?;
    let [text, re] = s.as_slice() else {
        return Err(ExecutionError::function_error("regex.extractAll", "expected 2 arguments"));
    };
    let re = compile("regex.extractAll", re)?;
    let found: Vec<Value> = re
        .captures_iter(text)
        .map(|c| {
            let m = if c.len() > 1 { c.get(1) } else { c.get(0) };
            Value::from(m.map(|m| m.as_str()).unwrap_or_default())
        })
        .collect();
    Ok(Value::List(Arc::new(found)))
}

fn regex_extract<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let s = strs("regex.extract", &to_values(&args)?)?;
    let [text, re] = s.as_slice() else {
        return Err(ExecutionError::function_error("regex.extract", "expected 2 arguments"));
    };
    let re = compile("regex.extract", re)?;
    let found = re.captures(text).and_then(|c| if c.len() > 1 { c.get(1) } else { c.get(0) });
    Ok(CowVal::owned(match found {
        Some(m) => CelOptional::of(Box::new(CelString::from(m.as_str().to_string()))),
        None => CelOptional::none(),
    }))
}

type ListPair = (Arc<Vec<Value>>, Arc<Vec<Value>>);

fn lists(name: &str, args: &[Value]) -> Result<ListPair, ExecutionError> {
    match args {
        [Value::List(a), Value::List(b)] => Ok((a.clone(), b.clone())),
        _ => Err(ExecutionError::function_error(name, "expected two lists")),
    }
}

fn sets_contains(args: Vec<Value>) -> Res {
    let (a, b) = lists("sets.contains", &args)?;
    Ok(Value::Bool(b.iter().all(|x| a.contains(x))))
}

fn sets_equivalent(args: Vec<Value>) -> Res {
    let (a, b) = lists("sets.equivalent", &args)?;
    Ok(Value::Bool(b.iter().all(|x| a.contains(x)) && a.iter().all(|x| b.contains(x))))
}

fn sets_intersects(args: Vec<Value>) -> Res {
    let (a, b) = lists("sets.intersects", &args)?;
    Ok(Value::Bool(a.iter().any(|x| b.contains(x))))
}

fn ip_is_canonical(args: Vec<Value>) -> Res {
    let s = strs("ip.isCanonical", &args)?;
    let [s] = s.as_slice() else {
        return Err(ExecutionError::function_error("ip.isCanonical", "expected 1 argument"));
    };
    let addr: std::net::IpAddr =
        s.parse().map_err(|_| ExecutionError::function_error("ip.isCanonical", format!("invalid IP address `{s}`")))?;
    Ok(Value::Bool(addr.to_string() == **s))
}

fn json_encode(args: Vec<Value>) -> Res {
    let [v] = args.as_slice() else {
        return Err(ExecutionError::function_error("json.encode", "expected 1 argument"));
    };
    serde_json::to_string(&super::to_json(v))
        .map(Value::from)
        .map_err(|e| ExecutionError::function_error("json.encode", e))
}

fn json_decode(args: Vec<Value>) -> Res {
    let s = strs("json.decode", &args)?;
    let [s] = s.as_slice() else {
        return Err(ExecutionError::function_error("json.decode", "expected 1 argument"));
    };
    serde_json::from_str::<serde_json::Value>(s)
        .map(|v| super::from_json(&v))
        .map_err(|e| ExecutionError::function_error("json.decode", e))
}

/// Registers the namespaced functions on `env`.
pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    overload!(
        env,
        "regex.replace",
        "regex_replace_string_string_string",
        vec![STRING_TYPE, STRING_TYPE, STRING_TYPE],
        regex_replace
    )?;
    overload!(
        env,
        "regex.replace",
        "regex_replace_string_string_string_int",
        vec![STRING_TYPE, STRING_TYPE, STRING_TYPE, INT_TYPE],
        regex_replace
    )?;
    overload!(
        env,
        "regex.extractAll",
        "regex_extract_all_string_string",
        vec![STRING_TYPE, STRING_TYPE],
        regex_extract_all
    )?;
    env.add_overload("regex.extract", "regex_extract_string_string", vec![STRING_TYPE, STRING_TYPE], regex_extract)?;
    overload!(env, "sets.contains", "sets_contains_list_list", vec![LIST_TYPE, LIST_TYPE], sets_contains)?;
    overload!(env, "sets.equivalent", "sets_equivalent_list_list", vec![LIST_TYPE, LIST_TYPE], sets_equivalent)?;
    overload!(env, "sets.intersects", "sets_intersects_list_list", vec![LIST_TYPE, LIST_TYPE], sets_intersects)?;
    overload!(env, "json.encode", "json_encode_dyn", vec![DYN_TYPE], json_encode)?;
    overload!(env, "json.decode", "json_decode_string", vec![STRING_TYPE], json_decode)?;
    overload!(env, "ip.isCanonical", "ip_is_canonical_string", vec![STRING_TYPE], ip_is_canonical)?;
    Ok(())
}
