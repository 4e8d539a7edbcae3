//! Conditions evaluated straight over the request, without the CEL interpreter.
//!
//! The interpreter needs the request as CEL values: `P` and `R` become hash maps of boxed
//! values, an allocation and a hash per attribute, before the first field is read. Most
//! conditions only compare a few fields, so each parsed expression is also lowered, once (when
//! the bundle is built or loaded), to a [`Fast`] tree over the request's own JSON: field paths
//! are direct lookups into borrowed data, literals are constants, and nothing allocates.
//!
//! A fast evaluation answers only where its answer is the interpreter's, value for value:
//! every case it does not model exactly (an error of any kind, a type it does not cover, such
//! as comparing lists) gives `None`, and the interpreter then evaluates the whole expression.
//! Error messages, error-absorbing `&&`/`||` and everything else stay the interpreter's. What it
//! covers (the semantics of the `cel` crate, which the equivalence test checks on generated
//! values): literals; `P`, `R`, `request`, `C`/`constants` and `G`/`globals` and fields and
//! indexes below them; `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `&&`, `||`, `!`, `?:`; `has()`;
//! `size()`; `startsWith`, `endsWith` and `contains` on strings. An expression with anything
//! else (variables, functions, macros, `now`) is not lowered.

use authz_api::model::{Attributes, CheckInput};
use cel::common::ast::{Expr, IdedExpr, LiteralValue};
use serde_json::Value as Json;
use std::cmp::Ordering;

/// An expression lowered for fast evaluation.
#[derive(Debug)]
pub(crate) enum Fast {
    Lit(Lit),
    /// A list literal of constants.
    Lits(Box<[Lit]>),
    Root(Root),
    /// A field of the request's own, found when lowering (`P.id`, `R.attr`, ...).
    Fixed(Fixed),
    Field(Box<Fast>, Box<str>),
    /// `has(x.field)`.
    Has(Box<Fast>, Box<str>),
    Index(Box<(Fast, Fast)>),
    Not(Box<Fast>),
    And(Box<(Fast, Fast)>),
    Or(Box<(Fast, Fast)>),
    If(Box<(Fast, Fast, Fast)>),
    /// `==` (`false`) or `!=` (`true`).
    Eq(Box<(Fast, Fast)>, bool),
    Cmp(Box<(Fast, Fast)>, Cmp),
    In(Box<(Fast, Fast)>),
    Size(Box<Fast>),
    Str(Box<(Fast, Fast)>, StrFn),
}

/// A constant.
#[derive(Debug)]
pub(crate) enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(Box<str>),
}

/// The names an expression starts from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Root {
    Principal,
    Resource,
    Request,
    Constants,
    Globals,
}

/// The request's fields below `P`, `R` and `request.auxData`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fixed {
    PrincipalId,
    PrincipalRoles,
    PrincipalAttr,
    PrincipalVersion,
    PrincipalScope,
    ResourceKind,
    ResourceId,
    ResourceAttr,
    ResourceVersion,
    ResourceScope,
    Aux,
    Jwt,
    Jwts,
    AuthZen,
}

/// An ordering operator.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// A string method.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StrFn {
    StartsWith,
    EndsWith,
    Contains,
}

/// A value during fast evaluation, borrowed from the request, the bundle or the expression.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FVal<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(&'a str),
    Arr(&'a [Json]),
    Obj(&'a Attributes),
    /// A map with no entries (`request.auxData.jwt` when the request has no aux data).
    EmptyObj,
    Roles(&'a [String]),
    Lits(&'a [Lit]),
    /// `P`, `R`, `request` and `request.auxData`: maps of fixed fields.
    Principal,
    Resource,
    Request,
    Aux,
}

/// What a fast evaluation reads.
pub(crate) struct FastCtx<'a> {
    pub(crate) input: &'a CheckInput,
    pub(crate) pscope: &'a str,
    pub(crate) rscope: &'a str,
    pub(crate) globals: &'a Attributes,
    pub(crate) constants: &'a Json,
}

impl Fast {
    /// The fast form of `e`, if everything in it has one.
    pub(crate) fn lower(e: &IdedExpr) -> Option<Fast> {
        let two = |a: &IdedExpr, b: &IdedExpr| Some(Box::new((Fast::lower(a)?, Fast::lower(b)?)));
        Some(match &e.expr {
            Expr::Literal(l) => Fast::Lit(Lit::of(l)?),
            Expr::Ident(name) => Fast::Root(match name.as_str() {
                "P" => Root::Principal,
                "R" => Root::Resource,
                "request" => Root::Request,
                "C" | "constants" => Root::Constants,
                "G" | "globals" => Root::Globals,
                _ => return None,
            }),
            Expr::Select(s) if s.test => Fast::Has(Box::new(Fast::lower(&s.operand)?), s.field.as_str().into()),
            Expr::Select(s) => {
                let operand = Fast::lower(&s.operand)?;
                match operand.fixed(&s.field) {
                    Some(f) => f,
                    None => Fast::Field(Box::new(operand), s.field.as_str().into()),
                }
            }
            Expr::List(l) if l.optional_indices.is_empty() => Fast::Lits(
                l.elements
                    .iter()
                    .map(|x| match &x.expr {
                        Expr::Literal(l) => Lit::of(l),
                        _ => None,
                    })
                    .collect::<Option<_>>()?,
            ),
            Expr::Call(c) => match (c.func_name.as_str(), c.target.as_deref(), c.args.as_slice()) {
                ("_?_:_", None, [a, b, x]) => Fast::If(Box::new((Fast::lower(a)?, Fast::lower(b)?, Fast::lower(x)?))),
                ("_&&_", None, [a, b]) => Fast::And(two(a, b)?),
                ("_||_", None, [a, b]) => Fast::Or(two(a, b)?),
                ("!_", None, [a]) => Fast::Not(Box::new(Fast::lower(a)?)),
                ("_==_", None, [a, b]) => Fast::Eq(two(a, b)?, false),
                ("_!=_", None, [a, b]) => Fast::Eq(two(a, b)?, true),
                ("_<_", None, [a, b]) => Fast::Cmp(two(a, b)?, Cmp::Lt),
                ("_<=_", None, [a, b]) => Fast::Cmp(two(a, b)?, Cmp::Le),
                ("_>_", None, [a, b]) => Fast::Cmp(two(a, b)?, Cmp::Gt),
                ("_>=_", None, [a, b]) => Fast::Cmp(two(a, b)?, Cmp::Ge),
                ("@in", None, [a, b]) => Fast::In(two(a, b)?),
                ("_[_]", None, [a, b]) => Fast::Index(two(a, b)?),
                ("size", None, [a]) | ("size", Some(a), []) => Fast::Size(Box::new(Fast::lower(a)?)),
                ("startsWith", Some(t), [a]) => Fast::Str(two(t, a)?, StrFn::StartsWith),
                ("endsWith", Some(t), [a]) => Fast::Str(two(t, a)?, StrFn::EndsWith),
                ("contains", Some(t), [a]) => Fast::Str(two(t, a)?, StrFn::Contains),
                _ => return None,
            },
            _ => return None,
        })
    }

    /// `self.field` where `self` is one of the request's maps of fixed fields: resolved now. A
    /// field they do not have is left to evaluation, which leaves it to the interpreter.
    fn fixed(&self, field: &str) -> Option<Fast> {
        let fixed = match (self, field) {
            (Fast::Root(Root::Request), "principal") => return Some(Fast::Root(Root::Principal)),
            (Fast::Root(Root::Request), "resource") => return Some(Fast::Root(Root::Resource)),
            (Fast::Root(Root::Request), "auxData" | "aux_data") => Fixed::Aux,
            (Fast::Root(Root::Principal), "id") => Fixed::PrincipalId,
            (Fast::Root(Root::Principal), "roles") => Fixed::PrincipalRoles,
            (Fast::Root(Root::Principal), "attr") => Fixed::PrincipalAttr,
            (Fast::Root(Root::Principal), "policyVersion") => Fixed::PrincipalVersion,
            (Fast::Root(Root::Principal), "scope") => Fixed::PrincipalScope,
            (Fast::Root(Root::Resource), "kind") => Fixed::ResourceKind,
            (Fast::Root(Root::Resource), "id") => Fixed::ResourceId,
            (Fast::Root(Root::Resource), "attr") => Fixed::ResourceAttr,
            (Fast::Root(Root::Resource), "policyVersion") => Fixed::ResourceVersion,
            (Fast::Root(Root::Resource), "scope") => Fixed::ResourceScope,
            (Fast::Fixed(Fixed::Aux), "jwt") => Fixed::Jwt,
            (Fast::Fixed(Fixed::Aux), "jwts") => Fixed::Jwts,
            (Fast::Fixed(Fixed::Aux), "authzen") => Fixed::AuthZen,
            _ => return None,
        };
        Some(Fast::Fixed(fixed))
    }

    /// The expression's value, where it is certainly the interpreter's; `None` where the
    /// interpreter must decide (an error, or a case not modelled here).
    pub(crate) fn eval<'a>(&'a self, cx: &FastCtx<'a>) -> Option<FVal<'a>> {
        Some(match self {
            Fast::Lit(l) => l.val(),
            Fast::Lits(l) => FVal::Lits(l),
            Fast::Root(Root::Principal) => FVal::Principal,
            Fast::Root(Root::Resource) => FVal::Resource,
            Fast::Root(Root::Request) => FVal::Request,
            Fast::Root(Root::Constants) => json(cx.constants),
            Fast::Root(Root::Globals) => FVal::Obj(cx.globals),
            Fast::Fixed(f) => f.val(cx),
            Fast::Field(x, f) => field(x.eval(cx)?, f, cx)?,
            Fast::Has(x, f) => FVal::Bool(has(x.eval(cx)?, f)?),
            Fast::Index(ab) => index(ab.0.eval(cx)?, ab.1.eval(cx)?, cx)?,
            Fast::Not(x) => FVal::Bool(!boolean(x.eval(cx)?)?),
            // A left side that decides does not evaluate the right one; any other left side
            // (an error, a non-boolean) is the interpreter's to combine with the right side.
            Fast::And(ab) => match boolean(ab.0.eval(cx)?)? {
                false => FVal::Bool(false),
                true => FVal::Bool(boolean(ab.1.eval(cx)?)?),
            },
            Fast::Or(ab) => match boolean(ab.0.eval(cx)?)? {
                true => FVal::Bool(true),
                false => FVal::Bool(boolean(ab.1.eval(cx)?)?),
            },
            Fast::If(c) => match boolean(c.0.eval(cx)?)? {
                true => c.1.eval(cx)?,
                false => c.2.eval(cx)?,
            },
            Fast::Eq(ab, negate) => FVal::Bool(equal(ab.0.eval(cx)?, ab.1.eval(cx)?)? != *negate),
            Fast::Cmp(ab, op) => {
                let o = compare(ab.0.eval(cx)?, ab.1.eval(cx)?)?;
                FVal::Bool(match op {
                    Cmp::Lt => o == Ordering::Less,
                    Cmp::Le => o != Ordering::Greater,
                    Cmp::Gt => o == Ordering::Greater,
                    Cmp::Ge => o != Ordering::Less,
                })
            }
            Fast::In(ab) => FVal::Bool(contains(ab.1.eval(cx)?, ab.0.eval(cx)?)?),
            Fast::Size(x) => FVal::Int(size(x.eval(cx)?)?),
            Fast::Str(ab, f) => match (ab.0.eval(cx)?, ab.1.eval(cx)?) {
                (FVal::Str(s), FVal::Str(t)) => FVal::Bool(match f {
                    StrFn::StartsWith => s.starts_with(t),
                    StrFn::EndsWith => s.ends_with(t),
                    StrFn::Contains => s.contains(t),
                }),
                _ => return None,
            },
        })
    }
}

impl Fixed {
    fn val<'a>(self, cx: &FastCtx<'a>) -> FVal<'a> {
        let (p, r) = (&cx.input.principal, &cx.input.resource);
        let aux = |f: fn(&'a authz_api::model::AuxData) -> &'a Attributes| match &cx.input.aux_data {
            Some(a) => FVal::Obj(f(a)),
            None => FVal::EmptyObj,
        };
        match self {
            Fixed::PrincipalId => FVal::Str(&p.id),
            Fixed::PrincipalRoles => FVal::Roles(&p.roles),
            Fixed::PrincipalAttr => FVal::Obj(&p.attr),
            Fixed::PrincipalVersion => FVal::Str(&p.policy_version),
            Fixed::PrincipalScope => FVal::Str(cx.pscope),
            Fixed::ResourceKind => FVal::Str(&r.kind),
            Fixed::ResourceId => FVal::Str(&r.id),
            Fixed::ResourceAttr => FVal::Obj(&r.attr),
            Fixed::ResourceVersion => FVal::Str(&r.policy_version),
            Fixed::ResourceScope => FVal::Str(cx.rscope),
            Fixed::Aux => FVal::Aux,
            Fixed::Jwt => aux(|a| &a.jwt),
            Fixed::Jwts => aux(|a| &a.jwts),
            Fixed::AuthZen => aux(|a| &a.authzen),
        }
    }
}

impl Lit {
    fn of(l: &LiteralValue) -> Option<Lit> {
        Some(match l {
            LiteralValue::Null => Lit::Null,
            LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
            LiteralValue::Int(i) => Lit::Int(*i.inner()),
            LiteralValue::UInt(u) => Lit::UInt(*u.inner()),
            LiteralValue::Double(d) => Lit::Double(*d.inner()),
            LiteralValue::String(s) => Lit::Str(s.inner().into()),
            LiteralValue::Bytes(_) => return None,
        })
    }

    /// The constant as a value.
    pub(crate) fn val(&self) -> FVal<'_> {
        match self {
            Lit::Null => FVal::Null,
            Lit::Bool(b) => FVal::Bool(*b),
            Lit::Int(i) => FVal::Int(*i),
            Lit::UInt(u) => FVal::UInt(*u),
            Lit::Double(d) => FVal::Double(*d),
            Lit::Str(s) => FVal::Str(s),
        }
    }
}

/// A JSON value as the interpreter sees it (see [`super::json_val`]): integral numbers are
/// `int` (or `uint` above `i64`), others `double`.
fn json(v: &Json) -> FVal<'_> {
    match v {
        Json::Null => FVal::Null,
        Json::Bool(b) => FVal::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => FVal::Int(i),
            (None, Some(u)) => FVal::UInt(u),
            _ => FVal::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => FVal::Str(s),
        Json::Array(a) => FVal::Arr(a),
        Json::Object(o) => FVal::Obj(o),
    }
}

fn boolean(v: FVal<'_>) -> Option<bool> {
    match v {
        FVal::Bool(b) => Some(b),
        _ => None,
    }
}

/// The fields of `P` and `R` (see `activation.rs`), of `request` and of its `auxData`.
const PRINCIPAL_FIELDS: [&str; 5] = ["id", "roles", "attr", "policyVersion", "scope"];
const RESOURCE_FIELDS: [&str; 5] = ["kind", "id", "attr", "policyVersion", "scope"];
const REQUEST_FIELDS: [&str; 4] = ["principal", "resource", "auxData", "aux_data"];
const AUX_FIELDS: [&str; 3] = ["jwt", "jwts", "authzen"];

/// `v.f`; `None` for a missing field (the interpreter's "no such key") or a value with none.
fn field<'a>(v: FVal<'a>, f: &str, cx: &FastCtx<'a>) -> Option<FVal<'a>> {
    let (p, r) = (&cx.input.principal, &cx.input.resource);
    Some(match (v, f) {
        (FVal::Obj(m), _) => json(get(m, f)?),
        (FVal::Principal, "id") => FVal::Str(&p.id),
        (FVal::Principal, "roles") => FVal::Roles(&p.roles),
        (FVal::Principal, "attr") => FVal::Obj(&p.attr),
        (FVal::Principal, "policyVersion") => FVal::Str(&p.policy_version),
        (FVal::Principal, "scope") => FVal::Str(cx.pscope),
        (FVal::Resource, "kind") => FVal::Str(&r.kind),
        (FVal::Resource, "id") => FVal::Str(&r.id),
        (FVal::Resource, "attr") => FVal::Obj(&r.attr),
        (FVal::Resource, "policyVersion") => FVal::Str(&r.policy_version),
        (FVal::Resource, "scope") => FVal::Str(cx.rscope),
        (FVal::Request, "principal") => FVal::Principal,
        (FVal::Request, "resource") => FVal::Resource,
        (FVal::Request, "auxData" | "aux_data") => FVal::Aux,
        (FVal::Aux, _) => {
            let Some(aux) = &cx.input.aux_data else {
                return AUX_FIELDS.contains(&f).then_some(FVal::EmptyObj);
            };
            match f {
                "jwt" => FVal::Obj(&aux.jwt),
                "jwts" => FVal::Obj(&aux.jwts),
                "authzen" => FVal::Obj(&aux.authzen),
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// `m[k]`. A request's maps are small: scanning a few keys costs less than hashing one (the
/// map hashes with SipHash).
fn get<'a>(m: &'a Attributes, k: &str) -> Option<&'a Json> {
    if m.len() <= 8 {
        m.iter().find_map(|(key, v)| (key == k).then_some(v))
    } else {
        m.get(k)
    }
}

/// `has(v.f)`.
fn has(v: FVal<'_>, f: &str) -> Option<bool> {
    Some(match v {
        FVal::Obj(m) => get(m, f).is_some(),
        FVal::EmptyObj => false,
        FVal::Principal => PRINCIPAL_FIELDS.contains(&f),
        FVal::Resource => RESOURCE_FIELDS.contains(&f),
        FVal::Request => REQUEST_FIELDS.contains(&f),
        FVal::Aux => AUX_FIELDS.contains(&f),
        _ => return None,
    })
}

/// `v[i]`: a map by string key, a list by position.
fn index<'a>(v: FVal<'a>, i: FVal<'a>, cx: &FastCtx<'a>) -> Option<FVal<'a>> {
    match (v, i) {
        (FVal::Obj(_) | FVal::Principal | FVal::Resource | FVal::Request | FVal::Aux, FVal::Str(k)) => field(v, k, cx),
        (FVal::Arr(a), FVal::Int(n)) => a.get(usize::try_from(n).ok()?).map(json),
        (FVal::Roles(a), FVal::Int(n)) => a.get(usize::try_from(n).ok()?).map(|s| FVal::Str(s)),
        (FVal::Lits(a), FVal::Int(n)) => a.get(usize::try_from(n).ok()?).map(Lit::val),
        _ => None,
    }
}

fn is_number(v: FVal<'_>) -> bool {
    matches!(v, FVal::Int(_) | FVal::UInt(_) | FVal::Double(_))
}

fn is_scalar(v: FVal<'_>) -> bool {
    matches!(v, FVal::Null | FVal::Bool(_) | FVal::Str(_)) || is_number(v)
}

/// The `cel` crate's numeric ordering across `int`, `uint` and `double`; `None` where it has
/// none (NaN).
fn numbers(a: FVal<'_>, b: FVal<'_>) -> Option<Ordering> {
    match (a, b) {
        (FVal::Int(x), FVal::Int(y)) => Some(x.cmp(&y)),
        (FVal::Int(x), FVal::UInt(y)) => Some(u64::try_from(x).map(|x| x.cmp(&y)).unwrap_or(Ordering::Less)),
        (FVal::UInt(x), FVal::Int(y)) => Some(i64::try_from(x).map(|x| x.cmp(&y)).unwrap_or(Ordering::Greater)),
        (FVal::UInt(x), FVal::UInt(y)) => Some(x.cmp(&y)),
        (FVal::Int(x), FVal::Double(y)) => (x as f64).partial_cmp(&y),
        (FVal::UInt(x), FVal::Double(y)) => (x as f64).partial_cmp(&y),
        (FVal::Double(x), FVal::Double(y)) => x.partial_cmp(&y),
        (FVal::Double(x), FVal::Int(y)) => x.partial_cmp(&(y as f64)),
        (FVal::Double(x), FVal::UInt(y)) => x.partial_cmp(&(y as f64)),
        _ => None,
    }
}

/// `a == b` between scalars (the interpreter's equality never fails: values of different
/// types are unequal, numbers compare across types); `None` for lists and maps.
fn equal(a: FVal<'_>, b: FVal<'_>) -> Option<bool> {
    Some(match (a, b) {
        (FVal::Str(x), FVal::Str(y)) => x == y,
        (FVal::Bool(x), FVal::Bool(y)) => x == y,
        (FVal::Null, FVal::Null) => true,
        _ if is_number(a) && is_number(b) => numbers(a, b) == Some(Ordering::Equal),
        _ if is_scalar(a) && is_scalar(b) => false,
        _ => return None,
    })
}

/// `a <=> b`: numbers, or strings; anything else (and NaN) is an error, the interpreter's.
fn compare(a: FVal<'_>, b: FVal<'_>) -> Option<Ordering> {
    match (a, b) {
        (FVal::Str(x), FVal::Str(y)) => Some(x.cmp(y)),
        _ => numbers(a, b),
    }
}

/// `needle in haystack`: a list holds an equal element, a map the key.
fn contains(haystack: FVal<'_>, needle: FVal<'_>) -> Option<bool> {
    match haystack {
        FVal::Arr(a) => any(a.iter().map(json), needle),
        FVal::Lits(a) => any(a.iter().map(Lit::val), needle),
        FVal::Roles(a) => any(a.iter().map(|s| FVal::Str(s)), needle),
        FVal::Obj(m) => match needle {
            FVal::Str(k) => Some(get(m, k).is_some()),
            _ => None,
        },
        FVal::EmptyObj => matches!(needle, FVal::Str(_)).then_some(false),
        _ => None,
    }
}

/// Whether an item equals `needle`, comparing in order up to the first that does, as the
/// interpreter does.
fn any<'a>(items: impl Iterator<Item = FVal<'a>>, needle: FVal<'_>) -> Option<bool> {
    for item in items {
        if equal(item, needle)? {
            return Some(true);
        }
    }
    Some(false)
}

/// `size(v)`: characters of a string, entries of a list or map.
fn size(v: FVal<'_>) -> Option<i64> {
    let n = match v {
        FVal::Str(s) => s.chars().count(),
        FVal::Arr(a) => a.len(),
        FVal::Obj(m) => m.len(),
        FVal::EmptyObj => 0,
        FVal::Roles(a) => a.len(),
        FVal::Lits(a) => a.len(),
        _ => return None,
    };
    i64::try_from(n).ok()
}
