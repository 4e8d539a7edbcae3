//! Partial evaluation of CEL: everything a plan knows (the principal, globals, constants,
//! variables, `now`, the resource attributes given) is evaluated; what reads the rest of the
//! resource stays as a residual condition, written in Cerbos's filter operators.

use crate::activation::{RequestVals, Scope};
use crate::cel::{map_val, narrow, owned_val, to_json, Runtime};
use crate::table::{Params, Table};
use authz_api::model::Attributes;
use authz_api::plan::Operand;
use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue, SelectExpr};
use cel::common::value::Val;
use cel::Value;

/// A partially evaluated expression.
#[derive(Debug, Clone)]
pub(crate) enum Pv {
    /// Its value.
    Known(Value),
    /// What is left to evaluate over the resource.
    Res(Operand),
    /// It fails to evaluate (whatever the resource).
    Err(String),
}

impl Pv {
    fn bool(b: bool) -> Pv {
        Pv::Known(Value::Bool(b))
    }
}

/// An operand for a known value or a residual.
fn operand(pv: Pv) -> Result<Operand, String> {
    match pv {
        Pv::Known(v) => Ok(Operand::Value(to_json(&v))),
        Pv::Res(o) => Ok(o),
        Pv::Err(e) => Err(e),
    }
}

/// Cerbos's operator name for a CEL function.
fn operator(func: &str) -> &str {
    match func {
        "_==_" => "eq",
        "_!=_" => "ne",
        "_<_" => "lt",
        "_<=_" => "le",
        "_>_" => "gt",
        "_>=_" => "ge",
        "@in" => "in",
        "_+_" => "add",
        "_-_" => "sub",
        "_*_" => "mult",
        "_/_" => "div",
        "_%_" => "mod",
        "_[_]" => "index",
        "_&&_" => "and",
        "_||_" => "or",
        "!_" => "not",
        "_?_:_" => "if",
        other => other,
    }
}

const ARG: &str = "@pe";

fn ident(name: String) -> IdedExpr {
    IdedExpr { id: 0, expr: Expr::Ident(name) }
}

/// The names bound by enclosing comprehensions and `cel.bind`, innermost last.
pub(crate) type Bound = Vec<(String, Pv)>;

/// What partial evaluation reads: the request as known, and the residual `runtime` of the
/// scope being planned (when its derived roles depend on the resource).
pub(crate) struct Partial<'r, 'a> {
    pub(crate) rt: &'r Runtime,
    pub(crate) table: &'r Table,
    pub(crate) req: RequestVals<'a>,
    pub(crate) attrs: &'a Attributes,
    /// The scope's `runtime` when known (`None`: empty).
    pub(crate) runtime: Option<Box<dyn Val + 'static>>,
    /// The scope's `runtime.effectiveDerivedRoles` when it depends on the resource.
    pub(crate) runtime_res: Option<Operand>,
    /// Variables evaluated so far: (parameter set, name, value).
    vars: Vec<(usize, String, Pv)>,
}

impl<'r, 'a> Partial<'r, 'a> {
    pub(crate) fn new(rt: &'r Runtime, table: &'r Table, req: RequestVals<'a>, attrs: &'a Attributes) -> Self {
        Partial { rt, table, req, attrs, runtime: None, runtime_res: None, vars: Vec::new() }
    }

    /// Evaluates `e` with `args` bound to `@pe0`, `@pe1`, ...
    fn eval(&self, e: &IdedExpr, params: &Params, args: Vec<Value>) -> Pv {
        let empty = crate::check::empty_runtime();
        let runtime = self.runtime.as_deref().unwrap_or(empty);
        let empty_vars = map_val(vec![]);
        let scope = Scope {
            req: &self.req,
            vars: empty_vars.as_ref(),
            consts: params.constants.as_ref(),
            runtime,
            zones: &self.table.zones,
        };
        let root = narrow(self.rt.root());
        let mut ctx = root.new_inner_scope();
        ctx.set_variable_resolver(&scope);
        for (i, v) in args.into_iter().enumerate() {
            ctx.add_variable_as_val(format!("{ARG}{i}"), owned_val(v));
        }
        match Value::resolve(e, &ctx) {
            Ok(v) => Pv::Known(v),
            Err(cel::ExecutionError::NoSuchKey(key)) => Pv::Err(format!("no such key: {key}")),
            Err(e) => Pv::Err(e.to_string()),
        }
    }

    /// Whether `e` reads nothing the plan does not know: no resource, no variable, no bound name.
    fn closed(&self, e: &IdedExpr, bound: &Bound) -> bool {
        let mut open = false;
        crate::cel::walk::visit(e, &mut |x| {
            if let Expr::Ident(n) = &x.expr {
                open |= matches!(n.as_str(), "R" | "request" | "V" | "variables")
                    || (n == "runtime" && self.runtime_res.is_some())
                    || bound.iter().any(|(b, _)| b == n);
            }
        });
        !open
    }

    /// Partially evaluates `e` under the parameter set `params`.
    pub(crate) fn pe(&mut self, e: &IdedExpr, params: &Params, bound: &mut Bound) -> Pv {
        if self.closed(e, bound) {
            return self.eval(e, params, Vec::new());
        }
        match &e.expr {
            Expr::Ident(name) => self.ident(name, params, bound),
            Expr::Select(s) => self.select(e, s, params, bound),
            Expr::Call(c) => self.call(c, params, bound),
            Expr::Comprehension(c) => self.comprehension(c, params, bound),
            Expr::List(l) => {
                let mut items = Vec::with_capacity(l.elements.len());
                for x in &l.elements {
                    items.push(self.pe(x, params, bound));
                }
                if items.iter().all(|p| matches!(p, Pv::Known(_))) {
                    let values = items.into_iter().filter_map(|p| if let Pv::Known(v) = p { Some(v) } else { None });
                    return Pv::Known(Value::List(std::sync::Arc::new(values.collect())));
                }
                match items.into_iter().map(operand).collect::<Result<Vec<_>, _>>() {
                    Ok(ops) => Pv::Res(Operand::op("list", ops)),
                    Err(e) => Pv::Err(e),
                }
            }
            _ => Pv::Err("this expression cannot be planned over unknown resource attributes".into()),
        }
    }

    fn ident(&mut self, name: &str, params: &Params, bound: &mut Bound) -> Pv {
        if let Some((_, pv)) = bound.iter().rev().find(|(b, _)| b == name) {
            return pv.clone();
        }
        match name {
            "R" => Pv::Res(Operand::Variable("request.resource".into())),
            "request" => Pv::Res(Operand::Variable("request".into())),
            "runtime" => match &self.runtime_res {
                Some(list) => Pv::Res(list.clone()),
                None => self.eval(&ident(name.to_string()), params, Vec::new()),
            },
            // `V` as a whole: every variable, known.
            _ => {
                let mut map = std::collections::HashMap::new();
                for (var, _) in &params.variables {
                    match self.variable(var, params) {
                        Pv::Known(v) => {
                            map.insert(var.clone(), v);
                        }
                        other => return other,
                    }
                }
                Pv::Known(Value::from(map))
            }
        }
    }

    /// A policy variable, evaluated once per plan.
    pub(crate) fn variable(&mut self, name: &str, params: &Params) -> Pv {
        if let Some((_, _, pv)) = self.vars.iter().find(|(id, n, _)| *id == params.id && n == name) {
            return pv.clone();
        }
        let pv = match params.variables.iter().find(|(n, _)| n == name) {
            Some((_, expr)) => {
                let ast = expr.ast().clone();
                self.pe(&ast, params, &mut Vec::new())
            }
            None => Pv::Err(format!("no such key: {name}")),
        };
        self.vars.push((params.id, name.to_string(), pv.clone()));
        pv
    }

    fn select(&mut self, e: &IdedExpr, s: &SelectExpr, params: &Params, bound: &mut Bound) -> Pv {
        // A chain of fields on a name: `R.attr.status`, `V.is_owner`, `ap.account_id`.
        let mut fields = vec![s.field.as_str()];
        let mut base = &*s.operand;
        while let Expr::Select(inner) = &base.expr {
            if inner.test {
                break;
            }
            fields.push(inner.field.as_str());
            base = &inner.operand;
        }
        fields.reverse();
        if let (Expr::Ident(root), false) = (&base.expr, s.test) {
            let shadowed = bound.iter().any(|(b, _)| b == root);
            match (root.as_str(), fields.as_slice()) {
                ("R", path) if !shadowed => return self.resource(path, params),
                ("request", ["resource", path @ ..]) if !shadowed => return self.resource(path, params),
                ("runtime", ["effectiveDerivedRoles" | "effective_derived_roles", rest @ ..]) if !shadowed => {
                    if let Some(list) = self.runtime_res.clone() {
                        return self.fields(Pv::Res(list), rest, params);
                    }
                }
                // `request.principal...`, `request.auxData...`: known.
                ("request", [first, ..]) if !shadowed && *first != "resource" => {
                    return self.eval(e, params, Vec::new());
                }
                ("V" | "variables", [name, rest @ ..]) if !shadowed => {
                    let v = self.variable(name, params);
                    return self.fields(v, rest, params);
                }
                _ => {}
            }
        }
        let operand = self.pe(&s.operand, params, bound);
        match operand {
            Pv::Known(v) => self.select_known(v, &s.field, s.test, params),
            // `has(x.f)` as `x.f != null`: a filter reads an absent field as null (an attribute
            // present with a null value is then left out: the filter errs on the side of denying).
            Pv::Res(o) if s.test => {
                Pv::Res(Operand::op("ne", vec![select_operand(o, &s.field), Operand::Value(serde_json::Value::Null)]))
            }
            Pv::Res(o) => Pv::Res(select_operand(o, &s.field)),
            err => err,
        }
    }

    /// `R.<path>`: the known parts of the resource, or a variable naming the unknown part.
    fn resource(&mut self, path: &[&str], params: &Params) -> Pv {
        match path {
            ["attr", name, rest @ ..] => match self.attrs.get(*name) {
                Some(v) => {
                    let v = crate::cel::from_json(v);
                    self.fields(Pv::Known(v), rest, params)
                }
                None => {
                    let rest = path.get(1..).unwrap_or_default();
                    Pv::Res(Operand::Variable(format!("request.resource.attr.{}", rest.join("."))))
                }
            },
            [field @ ("kind" | "scope" | "policyVersion"), rest @ ..] => {
                let sel = SelectExpr { operand: Box::new(ident("R".into())), field: field.to_string(), test: false };
                let v = self.eval(&IdedExpr { id: 0, expr: Expr::Select(sel) }, params, Vec::new());
                self.fields(v, rest, params)
            }
            [] => Pv::Res(Operand::Variable("request.resource".into())),
            _ => Pv::Res(Operand::Variable(format!("request.resource.{}", path.join(".")))),
        }
    }

    /// `v.<fields>`.
    fn fields(&mut self, v: Pv, fields: &[&str], params: &Params) -> Pv {
        let mut v = v;
        for f in fields {
            v = match v {
                Pv::Known(val) => self.select_known(val, f, false, params),
                Pv::Res(o) => Pv::Res(select_operand(o, f)),
                err => return err,
            };
        }
        v
    }

    fn call(&mut self, c: &CallExpr, params: &Params, bound: &mut Bound) -> Pv {
        let arg = |i: usize| c.args.get(i);
        match (c.func_name.as_str(), arg(0), arg(1), arg(2)) {
            (f @ ("_&&_" | "_||_"), Some(a), Some(b), None) => {
                let and = f == "_&&_";
                let a = self.pe(a, params, bound);
                // As CEL: `false && x` is false and `true || x` true, whatever x is.
                if matches!(a, Pv::Known(Value::Bool(v)) if v != and) {
                    return a;
                }
                let b = self.pe(b, params, bound);
                logic(and, a, b)
            }
            ("!_", Some(a), None, None) => match self.pe(a, params, bound) {
                Pv::Known(Value::Bool(v)) => Pv::bool(!v),
                Pv::Res(o) => Pv::Res(Operand::op("not", vec![o])),
                Pv::Known(_) => Pv::Err("no such overload: !_".into()),
                err => err,
            },
            ("@not_strictly_false", Some(a), None, None) => match self.pe(a, params, bound) {
                Pv::Known(Value::Bool(v)) => Pv::bool(v),
                Pv::Known(_) | Pv::Err(_) => Pv::bool(true),
                res => res,
            },
            ("_?_:_", Some(cond), Some(a), Some(b)) => match self.pe(cond, params, bound) {
                Pv::Known(Value::Bool(true)) => self.pe(a, params, bound),
                Pv::Known(Value::Bool(false)) => self.pe(b, params, bound),
                Pv::Known(_) => Pv::Err("no such overload: _?_:_".into()),
                Pv::Res(cond) => {
                    let (a, b) = (self.pe(a, params, bound), self.pe(b, params, bound));
                    match (operand(a), operand(b)) {
                        (Ok(a), Ok(b)) => Pv::Res(Operand::op("if", vec![cond, a, b])),
                        (Err(e), _) | (_, Err(e)) => Pv::Err(e),
                    }
                }
                err => err,
            },
            _ => self.function(c, params, bound),
        }
    }

    /// Any other function: evaluated when its arguments are known, else a residual operator.
    fn function(&mut self, c: &CallExpr, params: &Params, bound: &mut Bound) -> Pv {
        let mut parts = Vec::with_capacity(c.args.len() + 1);
        if let Some(t) = &c.target {
            parts.push(self.pe(t, params, bound));
        }
        for a in &c.args {
            parts.push(self.pe(a, params, bound));
        }
        if let Some(Pv::Err(e)) = parts.iter().find(|p| matches!(p, Pv::Err(_))) {
            return Pv::Err(e.clone());
        }
        if parts.iter().all(|p| matches!(p, Pv::Known(_))) {
            let values: Vec<Value> =
                parts.into_iter().filter_map(|p| if let Pv::Known(v) = p { Some(v) } else { None }).collect();
            return self.apply(c, values, params);
        }
        if let Some(pv) = self.over_entries(c, &parts, params) {
            return pv;
        }
        let is_in = c.func_name == "@in";
        let mut ops = Vec::with_capacity(parts.len());
        for (i, p) in parts.into_iter().enumerate() {
            let op = match p {
                // Membership in a known map is membership in its keys.
                Pv::Known(Value::Map(m)) if is_in && i == 1 => {
                    let mut keys: Vec<serde_json::Value> =
                        m.map.keys().map(|k| to_json(&Value::from(k.clone()))).collect();
                    keys.sort_by_key(|k| k.to_string());
                    Operand::Value(serde_json::Value::Array(keys))
                }
                p => match operand(p) {
                    Ok(o) => o,
                    Err(e) => return Pv::Err(e),
                },
            };
            ops.push(op);
        }
        Pv::Res(Operand::op(operator(&c.func_name), ops))
    }

    /// `v.field` (`has(v.field)` when `test`) of a known value.
    fn select_known(&self, v: Value, field: &str, test: bool, params: &Params) -> Pv {
        let sel = SelectExpr { operand: Box::new(ident(format!("{ARG}0"))), field: field.to_string(), test };
        self.eval(&IdedExpr { id: 0, expr: Expr::Select(sel) }, params, vec![v])
    }

    /// `c`'s function applied to known `values` (the target's first when it has one).
    fn apply(&self, c: &CallExpr, values: Vec<Value>, params: &Params) -> Pv {
        let mut names = (0..values.len()).map(|i| ident(format!("{ARG}{i}")));
        let target = c.target.as_ref().and_then(|_| names.next()).map(Box::new);
        let call = CallExpr { func_name: c.func_name.clone(), target, args: names.collect() };
        self.eval(&IdedExpr { id: 0, expr: Expr::Call(call) }, params, values)
    }

    /// A function of `m[k]`, a known map indexed by an unknown key: for each entry whose value
    /// the function holds for, `k == key` (`"ADMIN" in P.attr.roles[R.attr.location]` is
    /// `R.attr.location == "1" || R.attr.location == "3"`).
    fn over_entries(&mut self, c: &CallExpr, parts: &[Pv], params: &Params) -> Option<Pv> {
        const MAX_ENTRIES: usize = 64;
        let (at, map, key) = parts.iter().enumerate().find_map(|(i, p)| match p {
            Pv::Res(Operand::Expression(e)) if e.operator == "index" => match e.operands.as_slice() {
                [Operand::Value(serde_json::Value::Object(m)), key] if m.len() <= MAX_ENTRIES => {
                    Some((i, m.clone(), key.clone()))
                }
                _ => None,
            },
            _ => None,
        })?;
        let mut any = Vec::new();
        for (k, v) in map {
            let mut values = Vec::with_capacity(parts.len());
            for (i, p) in parts.iter().enumerate() {
                match p {
                    _ if i == at => values.push(crate::cel::from_json(&v)),
                    Pv::Known(x) => values.push(x.clone()),
                    _ => return None,
                }
            }
            match self.apply(c, values, params) {
                Pv::Known(Value::Bool(true)) => {
                    any.push(Operand::op("eq", vec![key.clone(), Operand::Value(serde_json::Value::String(k))]));
                }
                Pv::Known(Value::Bool(false)) | Pv::Err(_) => {}
                _ => return None,
            }
        }
        Some(match any.len() {
            0 => Pv::bool(false),
            1 => Pv::Res(any.pop()?),
            _ => Pv::Res(Operand::op("or", any)),
        })
    }

    fn comprehension(&mut self, c: &ComprehensionExpr, params: &Params, bound: &mut Bound) -> Pv {
        // `cel.bind(name, init, body)`: a comprehension over nothing.
        if c.iter_var == "#unused" {
            let init = self.pe(&c.accu_init, params, bound);
            bound.push((c.accu_var.clone(), init));
            let r = self.pe(&c.result, params, bound);
            bound.pop();
            return r;
        }
        if c.iter_var2.is_some() {
            return Pv::Err("two-variable comprehensions cannot be planned".into());
        }
        match self.pe(&c.iter_range, params, bound) {
            Pv::Known(range) => self.unroll(c, range, params, bound),
            Pv::Res(range) => self.lambda(c, range, params, bound),
            err => err,
        }
    }

    /// A comprehension over a known range, one step per element.
    fn unroll(&mut self, c: &ComprehensionExpr, range: Value, params: &Params, bound: &mut Bound) -> Pv {
        let items: Vec<Value> = match range {
            Value::List(l) => l.to_vec(),
            Value::Map(m) => {
                let mut keys: Vec<Value> = m.map.keys().map(|k| Value::from(k.clone())).collect();
                keys.sort_by_key(|k| to_json(k).to_string());
                keys
            }
            other => return Pv::Err(format!("cannot iterate over {:?}", other.type_of())),
        };
        let mut accu = self.pe(&c.accu_init, params, bound);
        for item in items {
            bound.push((c.iter_var.clone(), Pv::Known(item)));
            bound.push((c.accu_var.clone(), accu.clone()));
            let go_on = self.pe(&c.loop_cond, params, bound);
            if matches!(go_on, Pv::Known(Value::Bool(false))) {
                bound.truncate(bound.len() - 2);
                break;
            }
            let next = self.pe(&c.loop_step, params, bound);
            bound.truncate(bound.len() - 2);
            accu = next;
        }
        bound.push((c.accu_var.clone(), accu));
        let r = self.pe(&c.result, params, bound);
        bound.pop();
        r
    }

    /// A comprehension over an unknown range: Cerbos's `(kind range (lambda body var...))`.
    fn lambda(&mut self, c: &ComprehensionExpr, range: Operand, params: &Params, bound: &mut Bound) -> Pv {
        let Some((kind, body)) = macro_of(c) else {
            return Pv::Err("this comprehension cannot be planned over unknown resource attributes".into());
        };
        // Two-variable forms iterate over `@pairs(target)` and bind both names from `@pair`.
        let (range, vars, body) = match (&range, unpair(body)) {
            (Operand::Expression(e), Some((k, v, inner))) if e.operator == "@pairs" && c.iter_var == "@pair" => {
                let Some(target) = e.operands.first().cloned() else {
                    return Pv::Err("@pairs takes one operand".into());
                };
                (target, vec![k, v], inner)
            }
            _ => (range, vec![c.iter_var.clone()], body),
        };
        for v in &vars {
            bound.push((v.clone(), Pv::Res(Operand::Variable(v.clone()))));
        }
        let body = self.pe(body, params, bound);
        bound.truncate(bound.len() - vars.len());
        let body = match operand(body) {
            Ok(b) => b,
            Err(e) => return Pv::Err(e),
        };
        let mut lambda = vec![body];
        lambda.extend(vars.into_iter().map(Operand::Variable));
        Pv::Res(Operand::op(kind, vec![range, Operand::op("lambda", lambda)]))
    }
}

/// `o.field` for a residual `o`: a longer variable name when `o` is a variable.
fn select_operand(o: Operand, field: &str) -> Operand {
    match o {
        Operand::Variable(v) => Operand::Variable(format!("{v}.{field}")),
        other => Operand::op("get-field", vec![other, Operand::Variable(field.to_string())]),
    }
}

/// `a && b` (`and`) or `a || b` over partial values, as CEL's commutative logic.
fn logic(and: bool, a: Pv, b: Pv) -> Pv {
    let name = if and { "and" } else { "or" };
    match (a, b) {
        // The absorbing value decides, even over an error.
        (Pv::Known(Value::Bool(x)), _) | (_, Pv::Known(Value::Bool(x))) if x != and => Pv::bool(x),
        (Pv::Known(Value::Bool(_)), other) | (other, Pv::Known(Value::Bool(_))) => match other {
            Pv::Known(Value::Bool(_)) | Pv::Res(_) | Pv::Err(_) => other,
            Pv::Known(_) => Pv::Err(format!("no such overload: {name}")),
        },
        (Pv::Err(e), _) | (_, Pv::Err(e)) => Pv::Err(e),
        (Pv::Known(_), _) | (_, Pv::Known(_)) => Pv::Err(format!("no such overload: {name}")),
        (Pv::Res(x), Pv::Res(y)) => Pv::Res(Operand::op(name, vec![x, y])),
    }
}

fn is_ident(e: &IdedExpr, name: &str) -> bool {
    matches!(&e.expr, Expr::Ident(n) if n == name)
}

fn call_of<'e>(e: &'e IdedExpr, func: &str) -> Option<&'e [IdedExpr]> {
    match &e.expr {
        Expr::Call(c) if c.func_name == func && c.target.is_none() => Some(&c.args),
        _ => None,
    }
}

/// Which macro a comprehension expands, and its body.
fn macro_of(c: &ComprehensionExpr) -> Option<(&'static str, &IdedExpr)> {
    let acc = c.accu_var.as_str();
    let init = &c.accu_init.expr;
    if let Some([a, body]) = call_of(&c.loop_step, "_||_") {
        if is_ident(a, acc) && matches!(init, Expr::Literal(LiteralValue::Boolean(b)) if !*b.inner()) {
            return Some(("exists", body));
        }
    }
    if let Some([a, body]) = call_of(&c.loop_step, "_&&_") {
        if is_ident(a, acc) && matches!(init, Expr::Literal(LiteralValue::Boolean(b)) if *b.inner()) {
            return Some(("all", body));
        }
    }
    let empty_list = matches!(init, Expr::List(ListExpr { elements, .. }) if elements.is_empty());
    let appended = |e: &'_ IdedExpr| -> Option<IdedExpr> {
        let [a, single] = call_of(e, "_+_")? else { return None };
        match &single.expr {
            Expr::List(ListExpr { elements, .. }) if is_ident(a, acc) && elements.len() == 1 => {
                elements.first().cloned()
            }
            _ => None,
        }
    };
    if let Some([body, _, _]) = call_of(&c.loop_step, "_?_:_") {
        if matches!(init, Expr::Literal(LiteralValue::Int(_))) {
            return Some(("exists_one", body));
        }
        if let (true, Some([filter, step, _])) = (empty_list, call_of(&c.loop_step, "_?_:_")) {
            if appended(step).is_some_and(|x| is_ident(&x, &c.iter_var)) {
                return Some(("filter", filter));
            }
        }
        return None;
    }
    if empty_list {
        if let Some([_, single]) = call_of(&c.loop_step, "_+_") {
            if let Expr::List(ListExpr { elements, .. }) = &single.expr {
                if let [f] = elements.as_slice() {
                    return Some(("map", f));
                }
            }
        }
    }
    None
}

/// A two-variable macro's body, `cel.bind(k, @pair[0], cel.bind(v, @pair[1], body))`: the names
/// and the body.
fn unpair(body: &IdedExpr) -> Option<(String, String, &IdedExpr)> {
    fn bind(e: &IdedExpr) -> Option<(String, &IdedExpr)> {
        match &e.expr {
            Expr::Comprehension(c) if c.iter_var == "#unused" => Some((c.accu_var.clone(), &c.result)),
            _ => None,
        }
    }
    let (k, inner) = bind(body)?;
    let (v, body) = bind(inner)?;
    Some((k, v, body))
}
