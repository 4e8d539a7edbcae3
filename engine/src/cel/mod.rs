//! CEL for Cerbos conditions: one environment (the `cel` crate's standard library
//! and extensions, plus Cerbos's functions), compiled expressions, and conversion
//! between JSON and CEL values.

pub(crate) mod check;
pub(crate) mod codec;
pub(crate) mod fast;
#[cfg(test)]
mod fast_tests;
mod functions;
mod macros;
mod namespaced;
mod re2;
pub(crate) mod tz;
pub(crate) mod walk;

use cel::{Context, Env, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub(crate) use macros::NOW_VAR;

/// The shared CEL environment and function registry; built once per process.
pub(crate) struct Runtime {
    env: Arc<Env>,
    root: Context<'static, 'static>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cel::Runtime")
    }
}

fn build_runtime() -> Result<Runtime, cel::DeclarationError> {
    let mut env = Env::stdlib();
    env.add_extension(cel::extensions::strings)?;
    env.add_extension(cel::extensions::lists)?;
    env.add_extension(cel::extensions::math)?;
    env.add_extension(cel::extensions::encoders)?;
    macros::register(&mut env)?;
    namespaced::register(&mut env)?;
    let env = Arc::new(env);
    let mut root = Context::with_env(env.clone());
    functions::register(&mut root)?;
    Ok(Runtime { env, root })
}

static RUNTIME: std::sync::OnceLock<Result<Runtime, String>> = std::sync::OnceLock::new();

/// Builds the process-wide runtime unless built. Building it only fails on a programming
/// error (two functions registered under one name), which every test would show.
pub(crate) fn prepare_runtime() -> Result<&'static Runtime, String> {
    RUNTIME.get_or_init(|| build_runtime().map_err(|e| e.to_string())).as_ref().map_err(Clone::clone)
}

/// The process-wide runtime, built on first use.
#[cfg(not(feature = "prepared"))]
pub(crate) fn runtime() -> Result<&'static Runtime, String> {
    prepare_runtime()
}

/// The process-wide runtime, which [`crate::prepare`] must have built: with the `prepared`
/// feature nothing else reaches the code that builds it, so a pre-initialized WebAssembly
/// snapshot can drop that code (see `hosts/wasmtime/src/bake.rs`).
#[cfg(feature = "prepared")]
pub(crate) fn runtime() -> Result<&'static Runtime, String> {
    match RUNTIME.get() {
        Some(rt) => rt.as_ref().map_err(Clone::clone),
        None => Err("the CEL runtime was not prepared (authz_engine::prepare)".to_string()),
    }
}

impl Runtime {
    /// Parses `source` once; the result is evaluated many times. Expressions
    /// longer or more deeply nested than the limits are refused before parsing: the
    /// recursive-descent parser would otherwise exhaust the stack.
    pub(crate) fn compile(&self, source: &str) -> Result<CompiledExpr, String> {
        check_shape(source)?;
        let program = self.env.compile(source).map_err(|e| e.to_string())?;
        Ok(CompiledExpr::new(Arc::from(source), program.expression().clone()))
    }

    /// A fresh scope below the function registry.
    #[cfg(test)]
    pub(crate) fn scope(&self) -> Context<'_, 'static> {
        self.root.new_inner_scope()
    }

    /// The context holding the function registry.
    pub(crate) fn root(&self) -> &Context<'static, 'static> {
        &self.root
    }
}

/// Longest expression accepted, in bytes.
const MAX_EXPR_BYTES: usize = 64 * 1024;
/// Deepest bracket nesting accepted.
const MAX_NESTING: usize = 48;
/// Most binary operators accepted in one expression (each adds a parse level).
const MAX_OPERATORS: usize = 512;

fn check_shape(source: &str) -> Result<(), String> {
    if source.len() > MAX_EXPR_BYTES {
        return Err(format!("expression is {} bytes; the limit is {MAX_EXPR_BYTES}", source.len()));
    }
    let (mut depth, mut max, mut ops) = (0usize, 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for c in source.chars() {
        match quote {
            Some(q) if c == q && prev != '\\' => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                '+' | '-' | '*' | '/' | '%' | '&' | '|' | '<' | '>' | '=' | '?' => ops += 1,
                _ => {}
            },
        }
        prev = c;
    }
    if max > MAX_NESTING {
        return Err(format!("expression nests {max} levels deep; the limit is {MAX_NESTING}"));
    }
    if ops > MAX_OPERATORS * 2 {
        return Err(format!("expression has too many operators; the limit is {MAX_OPERATORS}"));
    }
    Ok(())
}

/// A parsed CEL expression with its source text; serializes as both, so a loaded
/// bundle never parses CEL.
#[derive(Clone)]
pub(crate) struct CompiledExpr {
    source: Arc<str>,
    expr: Arc<cel::IdedExpr>,
    /// The variables (`V.name`) the expression reads, found in its tree; `None` when it reads
    /// `V` as a whole, and so all of them.
    vars: Option<Arc<[String]>>,
    /// The expression lowered for evaluation without the interpreter, if it can be.
    fast: Option<Arc<fast::Fast>>,
}

impl serde::Serialize for CompiledExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&*self.source, codec::encode(&self.expr)).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for CompiledExpr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (source, node): (String, codec::Node) = serde::Deserialize::deserialize(d)?;
        Ok(CompiledExpr::new(Arc::from(source), codec::decode(node)))
    }
}

impl fmt::Debug for CompiledExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompiledExpr({:?})", self.source)
    }
}

impl CompiledExpr {
    fn new(source: Arc<str>, expr: cel::IdedExpr) -> Self {
        let vars = walk::variables(&expr).map(Arc::from);
        let fast = fast::Fast::lower(&expr).map(Arc::new);
        CompiledExpr { source, expr: Arc::new(expr), vars, fast }
    }

    /// The fast form (see [`fast`]), which reads no variables.
    pub(crate) fn fast(&self) -> Option<&fast::Fast> {
        self.fast.as_deref()
    }

    /// The names of the variables the expression reads, or `None` for all of them.
    pub(crate) fn variables(&self) -> Option<&[String]> {
        self.vars.as_deref()
    }

    /// The parsed expression.
    pub(crate) fn ast(&self) -> &cel::IdedExpr {
        &self.expr
    }

    /// The expression as written in the policy.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates in `ctx`; an error is a message (the decision treats it as false).
    pub(crate) fn eval(&self, ctx: &Context<'_, '_>) -> Result<Value, String> {
        Value::resolve(&self.expr, ctx).map_err(|e| match e {
            // Worded as cel-go words it: Cerbos reports the message in outputs and errors.
            cel::ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
            e => e.to_string(),
        })
    }
}

/// Converts JSON into a CEL value. Integral numbers become `int`, others `double`.
pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(a) => Value::List(Arc::new(a.iter().map(from_json).collect())),
        serde_json::Value::Object(o) => {
            let map: HashMap<String, Value> = o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect();
            Value::from(map)
        }
    }
}

/// Converts a CEL value into JSON for outputs; values with no JSON form become
/// their string rendering.
pub(crate) fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() && f.abs() < 9.0e15 => serde_json::Value::from(*f),
        Value::Map(m) => {
            let mut entries: Vec<_> = m.map.iter().collect();
            entries.sort_by_key(|(k, _)| k.to_string());
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
        }
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_json).collect()),
        Value::Duration(d) => {
            let secs = d.num_milliseconds() as f64 / 1000.0;
            serde_json::Value::String(format!("{secs}s"))
        }
        Value::Timestamp(t) => serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        other => other.json().unwrap_or_else(|_| serde_json::Value::String(format!("{other:?}"))),
    }
}

/// Narrows the process-wide root context to a request's lifetime, so that
/// request values can be borrowed instead of copied (`Context` is covariant).
pub(crate) fn narrow<'a>(c: &'a Context<'static, 'static>) -> &'a Context<'a, 'a> {
    c
}

use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt};
use cel::common::value::Val;

/// A JSON value as a CEL value, borrowing its strings (no copy of the text).
pub(crate) fn json_val(v: &serde_json::Value) -> Box<dyn Val + '_> {
    match v {
        serde_json::Value::Null => Box::new(CelNull),
        serde_json::Value::Bool(b) => Box::new(CelBool::from(*b)),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(u)) => Box::new(CelUInt::from(u)),
            _ => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        serde_json::Value::String(s) => Box::new(CelString::from(s.as_str())),
        serde_json::Value::Array(a) => Box::new(CelList::from(a.iter().map(json_val).collect::<Vec<_>>())),
        serde_json::Value::Object(o) => obj_val(o),
    }
}

/// A JSON object as a CEL map, borrowing its strings.
pub(crate) fn obj_val(o: &serde_json::Map<String, serde_json::Value>) -> Box<dyn Val + '_> {
    Box::new(CelMap::from(o.iter().map(|(k, v)| (CelMapKey::from(k.as_str()), json_val(v))).collect::<HashMap<_, _>>()))
}

/// A CEL map from string keys to values.
pub(crate) fn map_val<'a>(entries: Vec<(&'a str, Box<dyn Val + 'a>)>) -> Box<dyn Val + 'a> {
    Box::new(CelMap::from(entries.into_iter().map(|(k, v)| (CelMapKey::from(k), v)).collect::<HashMap<_, _>>()))
}

/// A list of borrowed strings.
pub(crate) fn str_list<'a>(items: impl Iterator<Item = &'a str>) -> Box<dyn Val + 'a> {
    Box::new(CelList::from(items.map(|s| Box::new(CelString::from(s)) as Box<dyn Val + 'a>).collect::<Vec<_>>()))
}

/// A string value borrowing `s`.
pub(crate) fn str_val(s: &str) -> Box<dyn Val + '_> {
    Box::new(CelString::from(s))
}

/// An owned CEL value from an evaluation result.
pub(crate) fn owned_val(v: Value) -> Box<dyn Val + 'static> {
    Box::<dyn Val>::try_from(v).unwrap_or_else(|_| Box::new(CelNull))
}
