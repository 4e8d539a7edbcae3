//! Cerbos's CEL library on top of the `cel` crate: set functions, `hierarchy`,
//! network and SPIFFE functions, regex and sets extensions, and the helpers the
//! macros in [`super::macros`] expand to.
//!
//! Hierarchies, IP addresses and CIDRs are represented by plain CEL values (a list
//! of segments, canonical strings) so that equality and indexing work unchanged.

use cel::extractors::{Arguments, This};
use cel::objects::{Key, Map};
use cel::{Context, DeclarationError, ExecutionError, FunctionContext, Value};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

type Res = Result<Value, ExecutionError>;
type List = Arc<Vec<Value>>;

fn list(v: Vec<Value>) -> Value {
    Value::List(Arc::new(v))
}

fn string(s: impl Into<String>) -> Value {
    Value::String(Arc::new(s.into()))
}

fn err(ftx: &FunctionContext, msg: impl ToString) -> ExecutionError {
    ftx.error(msg)
}

// ---- lists as sets -------------------------------------------------------

fn except(This(a): This<List>, b: List) -> Value {
    list(a.iter().filter(|x| !b.contains(x)).cloned().collect())
}

fn intersect(a: List, b: List) -> Value {
    list(a.iter().filter(|x| b.contains(x)).cloned().collect())
}

fn has_intersection(a: List, b: List) -> bool {
    a.iter().any(|x| b.contains(x))
}

fn is_subset(This(a): This<List>, b: List) -> bool {
    a.iter().all(|x| b.contains(x))
}

// ---- hierarchy -----------------------------------------------------------

fn hierarchy(ftx: &FunctionContext, Arguments(args): Arguments) -> Res {
    let (v, delim) = match args.as_slice() {
        [v] => (v.clone(), None),
        [Value::String(s), Value::String(d)] => (Value::String(s.clone()), Some(d.clone())),
        _ => return Err(err(ftx, "hierarchy expects a string or list, and an optional delimiter")),
    };
    if let (Value::String(s), Some(d)) = (&v, delim) {
        return Ok(split_hierarchy(s, &d));
    }
    match v {
        Value::String(s) => Ok(split_hierarchy(&s, ".")),
        Value::List(l) => {
            for item in l.iter() {
                if !matches!(item, Value::String(_)) {
                    return Err(err(ftx, "hierarchy list elements must be strings"));
                }
            }
            Ok(Value::List(l))
        }
        other => Err(err(ftx, format!("hierarchy expects a string or list, got {other:?}"))),
    }
}

fn split_hierarchy(s: &str, delim: &str) -> Value {
    if s.is_empty() {
        return list(vec![]);
    }
    list(s.split(delim).map(string).collect())
}

fn is_prefix(a: &[Value], b: &[Value]) -> bool {
    a.len() <= b.len() && a.iter().zip(b.iter()).all(|(x, y)| x == y)
}

fn ancestor_of(This(a): This<List>, b: List) -> bool {
    a.len() < b.len() && is_prefix(&a, &b)
}

fn descendent_of(This(a): This<List>, b: List) -> bool {
    b.len() < a.len() && is_prefix(&b, &a)
}

fn immediate_child_of(This(a): This<List>, b: List) -> bool {
    a.len() == b.len() + 1 && is_prefix(&b, &a)
}

fn immediate_parent_of(This(a): This<List>, b: List) -> bool {
    b.len() == a.len() + 1 && is_prefix(&a, &b)
}

fn common_ancestors(This(a): This<List>, b: List) -> Value {
    let n = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    // A hierarchy is not its own ancestor: equal hierarchies share only their parents.
    let n = if a.len() == b.len() && n == a.len() { n.saturating_sub(1) } else { n };
    list(a.iter().take(n).cloned().collect())
}

fn overlaps(This(a): This<List>, b: List) -> bool {
    is_prefix(&a, &b) || is_prefix(&b, &a)
}

fn sibling_of(This(a): This<List>, b: List) -> bool {
    !a.is_empty() && a.len() == b.len() && a != b && {
        let n = a.len() - 1;
        a.iter().take(n).eq(b.iter().take(n))
    }
}

// ---- network -------------------------------------------------------------

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let addr = parse_ip(addr)?;
    let len: u8 = len.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

fn masked(addr: IpAddr, len: u8) -> u128 {
    let (bits, width) = match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32u32),
        IpAddr::V6(a) => (u128::from(a), 128u32),
    };
    let len = u32::from(len);
    if len == 0 {
        return 0;
    }
    let shift = width - len;
    (bits >> shift) << shift
}

fn cidr_contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    net.0.is_ipv4() == ip.is_ipv4() && masked(net.0, net.1) == masked(ip, net.1)
}

fn in_ip_addr_range(ftx: &FunctionContext, This(ip): This<Arc<String>>, range: Arc<String>) -> Res {
    let ip = parse_ip(&ip).ok_or_else(|| err(ftx, format!("invalid IP address `{ip}`")))?;
    let net = parse_cidr(&range).ok_or_else(|| err(ftx, format!("invalid CIDR `{range}`")))?;
    Ok(Value::Bool(cidr_contains(net, ip)))
}

/// `s.matches(re)` and `matches(s, re)`. The dialect is RE2 as cel-go (Cerbos) has it:
/// `\d`, `\w`, `\s` and `\b` are ASCII (as in RE2), `(?i)` folds as RE2 does (see `re2.rs`),
/// and what `regex-lite` cannot match as RE2 would (Unicode classes `\p{..}`, a non-ASCII letter
/// under `(?i)`) is refused with an error, never matched differently.
fn matches(This(s): This<Arc<String>>, re: Arc<String>) -> Res {
    let re = super::namespaced::compile("matches", &re)?;
    Ok(Value::Bool(re.is_match(&s)))
}

/// `@inZone(t, tz, zones)`: `t` seen from the zone `tz` of the bundle's table (see `tz.rs`).
fn in_zone(ftx: &FunctionContext, Arguments(args): Arguments) -> Res {
    match args.as_slice() {
        [Value::Timestamp(t), Value::String(tz), Value::Opaque(zones)] => {
            let zones = zones.downcast_ref::<super::tz::Zones>().ok_or_else(|| err(ftx, "no time zone table"))?;
            zones.shift(t, tz).map(Value::Timestamp).map_err(|m| ExecutionError::function_error("timezone", m))
        }
        _ => Err(err(ftx, "no such overload: a time zone applies to a timestamp and is a string")),
    }
}

fn is_ip(s: Arc<String>) -> bool {
    parse_ip(&s).is_some()
}

fn ip(ftx: &FunctionContext, s: Arc<String>) -> Res {
    parse_ip(&s).map(|a| string(a.to_string())).ok_or_else(|| err(ftx, format!("invalid IP address `{s}`")))
}

fn with_ip(ftx: &FunctionContext, s: &str, f: impl Fn(IpAddr) -> Value) -> Res {
    parse_ip(s).map(f).ok_or_else(|| err(ftx, format!("invalid IP address `{s}`")))
}

fn family(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    with_ip(ftx, &s, |a| Value::Int(if a.is_ipv4() { 4 } else { 6 }))
}

fn is_loopback(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    with_ip(ftx, &s, |a| Value::Bool(a.is_loopback()))
}

fn is_unspecified(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    with_ip(ftx, &s, |a| Value::Bool(a.is_unspecified()))
}

fn is_global_unicast(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    with_ip(ftx, &s, |a| {
        Value::Bool(match a {
            IpAddr::V4(v) => {
                !(v.is_loopback() || v.is_multicast() || v.is_unspecified() || v.is_broadcast() || v.is_link_local())
            }
            IpAddr::V6(v) => {
                let seg = v.segments()[0];
                !(v.is_loopback() || v.is_multicast() || v.is_unspecified() || (seg & 0xffc0) == 0xfe80)
            }
        })
    })
}

fn is_link_local_unicast(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    with_ip(ftx, &s, |a| {
        Value::Bool(match a {
            IpAddr::V4(v) => v.is_link_local(),
            IpAddr::V6(v) => (v.segments()[0] & 0xffc0) == 0xfe80,
        })
    })
}

fn is_link_local_multicast(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    with_ip(ftx, &s, |a| {
        Value::Bool(match a {
            IpAddr::V4(v) => v.octets()[..3] == [224, 0, 0],
            IpAddr::V6(v) => (v.segments()[0] & 0xff0f) == 0xff02,
        })
    })
}

fn is_cidr(s: Arc<String>) -> bool {
    parse_cidr(&s).is_some()
}

fn cidr(ftx: &FunctionContext, s: Arc<String>) -> Res {
    parse_cidr(&s).map(|(a, l)| string(format!("{a}/{l}"))).ok_or_else(|| err(ftx, format!("invalid CIDR `{s}`")))
}

fn with_cidr(ftx: &FunctionContext, s: &str) -> Result<(IpAddr, u8), ExecutionError> {
    parse_cidr(s).ok_or_else(|| err(ftx, format!("invalid CIDR `{s}`")))
}

fn contains_ip(ftx: &FunctionContext, This(net): This<Arc<String>>, ip: Arc<String>) -> Res {
    let net = with_cidr(ftx, &net)?;
    let ip = parse_ip(&ip).ok_or_else(|| err(ftx, format!("invalid IP address `{ip}`")))?;
    Ok(Value::Bool(cidr_contains(net, ip)))
}

fn contains_cidr(ftx: &FunctionContext, This(net): This<Arc<String>>, other: Arc<String>) -> Res {
    let net = with_cidr(ftx, &net)?;
    let other = with_cidr(ftx, &other)?;
    Ok(Value::Bool(other.1 >= net.1 && cidr_contains(net, other.0)))
}

fn is_mask(ftx: &FunctionContext, This(net): This<Arc<String>>) -> Res {
    let (addr, len) = with_cidr(ftx, &net)?;
    let bits = match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    Ok(Value::Bool(masked(addr, len) == bits))
}

fn masked_cidr(ftx: &FunctionContext, This(net): This<Arc<String>>) -> Res {
    let (addr, len) = with_cidr(ftx, &net)?;
    let bits = masked(addr, len);
    let addr = match addr {
        IpAddr::V4(_) => IpAddr::from(u32::try_from(bits).unwrap_or(0).to_be_bytes()),
        IpAddr::V6(_) => IpAddr::from(bits.to_be_bytes()),
    };
    Ok(string(format!("{addr}/{len}")))
}

fn prefix_length(ftx: &FunctionContext, This(net): This<Arc<String>>) -> Res {
    Ok(Value::Int(i64::from(with_cidr(ftx, &net)?.1)))
}

// ---- SPIFFE --------------------------------------------------------------

/// Splits `spiffe://trust.domain/path` into (trust domain, path).
fn parse_spiffe(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("spiffe://")?;
    let (td, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, ""),
    };
    let td_ok = !td.is_empty() && td.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c));
    let path_ok = path.is_empty() || (path != "/" && !path.ends_with('/') && !path.contains("//"));
    (td_ok && path_ok).then_some((td, path))
}

fn spiffe_id(ftx: &FunctionContext, s: Arc<String>) -> Res {
    parse_spiffe(&s).map(|_| Value::String(s.clone())).ok_or_else(|| err(ftx, format!("invalid SPIFFE ID `{s}`")))
}

fn spiffe_trust_domain(ftx: &FunctionContext, s: Arc<String>) -> Res {
    let td = s.strip_prefix("spiffe://").unwrap_or(&s);
    match parse_spiffe(&format!("spiffe://{td}")) {
        Some((td, "")) => Ok(string(format!("spiffe://{td}"))),
        _ => Err(err(ftx, format!("invalid SPIFFE trust domain `{s}`"))),
    }
}

fn spiffe_parts(ftx: &FunctionContext, s: &str) -> Result<(String, String), ExecutionError> {
    parse_spiffe(s)
        .map(|(td, p)| (td.to_string(), p.to_string()))
        .ok_or_else(|| err(ftx, format!("invalid SPIFFE ID `{s}`")))
}

fn spiffe_path(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    Ok(string(spiffe_parts(ftx, &s)?.1))
}

fn spiffe_td_of(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    Ok(string(format!("spiffe://{}", spiffe_parts(ftx, &s)?.0)))
}

fn spiffe_td_name(ftx: &FunctionContext, This(s): This<Arc<String>>) -> Res {
    Ok(string(spiffe_parts(ftx, &s)?.0))
}

fn spiffe_is_member_of(ftx: &FunctionContext, This(s): This<Arc<String>>, td: Arc<String>) -> Res {
    let (mine, _) = spiffe_parts(ftx, &s)?;
    let (theirs, _) = spiffe_parts(ftx, &td)?;
    Ok(Value::Bool(mine == theirs))
}

fn matcher(kind: &str, ids: Vec<Value>) -> Value {
    let mut m = HashMap::new();
    m.insert(Key::String(Arc::new("@spiffe_matcher".into())), string(kind));
    m.insert(Key::String(Arc::new("ids".into())), list(ids));
    Value::Map(Map { map: Arc::new(m) })
}

fn spiffe_match_any() -> Value {
    matcher("any", vec![])
}

fn spiffe_match_exact(ftx: &FunctionContext, id: Arc<String>) -> Res {
    spiffe_parts(ftx, &id)?;
    Ok(matcher("exact", vec![Value::String(id)]))
}

fn spiffe_match_one_of(ftx: &FunctionContext, ids: List) -> Res {
    for id in ids.iter() {
        match id {
            Value::String(s) => {
                spiffe_parts(ftx, s)?;
            }
            _ => return Err(err(ftx, "spiffeMatchOneOf expects a list of SPIFFE IDs")),
        }
    }
    Ok(matcher("exact", ids.to_vec()))
}

fn spiffe_match_trust_domain(ftx: &FunctionContext, td: Arc<String>) -> Res {
    spiffe_parts(ftx, &td)?;
    Ok(matcher("td", vec![Value::String(td)]))
}

fn matches_id(ftx: &FunctionContext, This(m): This<Value>, id: Arc<String>) -> Res {
    let Value::Map(m) = m else { return Err(err(ftx, "matchesID needs a SPIFFE matcher")) };
    let get = |k: &str| m.map.get(&Key::String(Arc::new(k.to_string()))).cloned();
    let (Some(Value::String(kind)), Some(Value::List(ids))) = (get("@spiffe_matcher"), get("ids")) else {
        return Err(err(ftx, "matchesID needs a SPIFFE matcher"));
    };
    let (td, _) = spiffe_parts(ftx, &id)?;
    let hit = match kind.as_str() {
        "any" => true,
        "exact" => ids.iter().any(|x| matches!(x, Value::String(s) if **s == *id)),
        _ => ids.iter().any(|x| matches!(x, Value::String(s) if parse_spiffe(s).map(|p| p.0) == Some(td.as_str()))),
    };
    Ok(Value::Bool(hit))
}

// ---- helpers for macros ----------------------------------------------------

fn key_value(k: &Key) -> Value {
    match k {
        Key::Int(i) => Value::Int(*i),
        Key::Uint(u) => Value::UInt(*u),
        Key::Bool(b) => Value::Bool(*b),
        Key::String(s) => Value::String(s.clone()),
    }
}

fn value_key(ftx: &FunctionContext, v: &Value) -> Result<Key, ExecutionError> {
    Ok(match v {
        Value::Int(i) => Key::Int(*i),
        Value::UInt(u) => Key::Uint(*u),
        Value::Bool(b) => Key::Bool(*b),
        Value::String(s) => Key::String(s.clone()),
        Value::Float(f) if f.fract() == 0.0 && f.is_finite() => Key::Int(*f as i64),
        other => return Err(err(ftx, format!("unsupported map key {other:?}"))),
    })
}

fn pairs(ftx: &FunctionContext, v: Value) -> Res {
    Ok(match v {
        Value::List(l) => list(
            l.iter()
                .enumerate()
                .map(|(i, x)| list(vec![Value::Int(i64::try_from(i).unwrap_or(i64::MAX)), x.clone()]))
                .collect(),
        ),
        Value::Map(m) => {
            let mut entries: Vec<_> = m.map.iter().collect();
            entries.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
            list(entries.into_iter().map(|(k, v)| list(vec![key_value(k), v.clone()])).collect())
        }
        other => return Err(err(ftx, format!("cannot iterate over {other:?}"))),
    })
}

fn pairs_to_map(ftx: &FunctionContext, l: List) -> Res {
    let mut m = HashMap::new();
    for p in l.iter() {
        if let Value::List(kv) = p {
            if let [k, v] = kv.as_slice() {
                m.insert(value_key(ftx, k)?, v.clone());
            }
        }
    }
    Ok(Value::Map(Map { map: Arc::new(m) }))
}

fn merge_maps(ftx: &FunctionContext, l: List) -> Res {
    let mut m = HashMap::new();
    for item in l.iter() {
        match item {
            Value::Map(x) => m.extend(x.map.iter().map(|(k, v)| (k.clone(), v.clone()))),
            _ => return Err(err(ftx, "transformMapEntry expression must produce a map")),
        }
    }
    Ok(Value::Map(Map { map: Arc::new(m) }))
}

/// Registers the functions of this module on a root context.
pub(crate) fn register(ctx: &mut Context<'static, 'static>) -> Result<(), DeclarationError> {
    ctx.add_function("except", except)?;
    ctx.add_function("intersect", intersect)?;
    ctx.add_function("hasIntersection", has_intersection)?;
    ctx.add_function("has_intersection", has_intersection)?;
    ctx.add_function("isSubset", is_subset)?;
    ctx.add_function("is_subset", is_subset)?;
    ctx.add_function("hierarchy", hierarchy)?;
    ctx.add_function("ancestorOf", ancestor_of)?;
    ctx.add_function("descendentOf", descendent_of)?;
    ctx.add_function("immediateChildOf", immediate_child_of)?;
    ctx.add_function("immediateParentOf", immediate_parent_of)?;
    ctx.add_function("commonAncestors", common_ancestors)?;
    ctx.add_function("overlaps", overlaps)?;
    ctx.add_function("siblingOf", sibling_of)?;
    ctx.add_function("inIPAddrRange", in_ip_addr_range)?;
    ctx.add_function("matches", matches)?;
    ctx.add_function(super::tz::IN_ZONE_FN, in_zone)?;
    ctx.add_function("isIP", is_ip)?;
    ctx.add_function("ip", ip)?;
    ctx.add_function("family", family)?;
    ctx.add_function("isLoopback", is_loopback)?;
    ctx.add_function("isUnspecified", is_unspecified)?;
    ctx.add_function("isGlobalUnicast", is_global_unicast)?;
    ctx.add_function("isLinkLocalUnicast", is_link_local_unicast)?;
    ctx.add_function("isLinkLocalMulticast", is_link_local_multicast)?;
    ctx.add_function("isCIDR", is_cidr)?;
    ctx.add_function("cidr", cidr)?;
    ctx.add_function("containsIP", contains_ip)?;
    ctx.add_function("containsCIDR", contains_cidr)?;
    ctx.add_function("isMask", is_mask)?;
    ctx.add_function("prefixLength", prefix_length)?;
    ctx.add_function("masked", masked_cidr)?;
    ctx.add_function("spiffeID", spiffe_id)?;
    ctx.add_function("spiffeTrustDomain", spiffe_trust_domain)?;
    ctx.add_function("path", spiffe_path)?;
    ctx.add_function("trustDomain", spiffe_td_of)?;
    ctx.add_function("name", spiffe_td_name)?;
    ctx.add_function("isMemberOf", spiffe_is_member_of)?;
    ctx.add_function("spiffeMatchAny", spiffe_match_any)?;
    ctx.add_function("spiffeMatchExact", spiffe_match_exact)?;
    ctx.add_function("spiffeMatchOneOf", spiffe_match_one_of)?;
    ctx.add_function("spiffeMatchTrustDomain", spiffe_match_trust_domain)?;
    ctx.add_function("matchesID", matches_id)?;
    ctx.add_function("@pairs", pairs)?;
    ctx.add_function("@pairs_to_map", pairs_to_map)?;
    ctx.add_function("@merge_maps", merge_maps)?;
    Ok(())
}
