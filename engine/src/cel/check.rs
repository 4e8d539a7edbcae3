//! Build-time checks of a parsed expression, as Cerbos's type checker rejects the same
//! mistakes at compile time: an unknown function or misspelled macro, an unknown name, a regex
//! literal that does not compile. Left to run time, each would be an evaluation error, and a
//! DENY rule whose condition errors does not apply: the answer would be ALLOW.

use super::namespaced;
use super::tz::ZONES_VAR;
use super::{Runtime, NOW_VAR};
use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::{ExecutionError, Value};

/// The names a condition can read, besides the ones its own comprehensions bind.
const ROOTS: &[&str] =
    &["request", "R", "P", "V", "variables", "C", "constants", "G", "globals", "runtime", NOW_VAR, ZONES_VAR];

/// Every problem found in `e`, as messages.
pub(crate) fn check(rt: &Runtime, e: &IdedExpr) -> Vec<String> {
    let mut c = Checker { rt, bound: Vec::new(), problems: Vec::new() };
    c.expr(e);
    c.problems.dedup();
    c.problems
}

struct Checker<'r> {
    rt: &'r Runtime,
    /// Names bound by the comprehensions around the expression being checked.
    bound: Vec<String>,
    problems: Vec<String>,
}

impl Checker<'_> {
    fn expr(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Ident(name) => {
                if !self.is_known_name(name) {
                    self.problems.push(format!("undeclared reference to `{name}`"));
                }
            }
            Expr::Select(s) => {
                // A qualified type name (`google.protobuf.Duration`) is a name of its own.
                if root_name(&s.operand).is_some_and(|n| !self.is_known_name(n)) && self.resolves(e) {
                    return;
                }
                self.expr(&s.operand);
            }
            Expr::Call(call) => self.call(call),
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                let outer = self.bound.len();
                self.bound.push(c.accu_var.clone());
                self.bound.push(c.iter_var.clone());
                self.bound.extend(c.iter_var2.clone());
                self.expr(&c.loop_cond);
                self.expr(&c.loop_step);
                self.bound.truncate(outer);
                self.bound.push(c.accu_var.clone());
                self.expr(&c.result);
                self.bound.truncate(outer);
            }
            Expr::List(l) => l.elements.iter().for_each(|x| self.expr(x)),
            Expr::Map(m) => m.entries.iter().for_each(|x| self.entry(&x.expr)),
            Expr::Struct(s) => s.entries.iter().for_each(|x| self.entry(&x.expr)),
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }

    fn entry(&mut self, e: &EntryExpr) {
        match e {
            EntryExpr::StructField(x) => self.expr(&x.value),
            EntryExpr::MapEntry(x) => {
                self.expr(&x.key);
                self.expr(&x.value);
            }
        }
    }

    fn call(&mut self, call: &CallExpr) {
        self.regex_literal(call);
        // Operators (`_==_`, `@in`, …) are the interpreter's own; users cannot spell these names.
        let operator = call.func_name.starts_with(['_', '@']);
        let mut check_target = true;
        if !operator {
            match self.function(call) {
                Function::Unknown => {
                    let shape = if call.target.is_some() { ".{}(…)" } else { "{}(…)" };
                    let name = shape.replace("{}", &call.func_name);
                    self.problems.push(format!("undeclared reference to function `{name}`"));
                }
                // `math.greatest(…)`: the target is the function's namespace, not a value.
                Function::Qualified => check_target = false,
                Function::Known => {}
            }
        }
        if check_target {
            call.target.iter().for_each(|t| self.expr(t));
        }
        call.args.iter().for_each(|a| self.expr(a));
    }

    /// Whether the function a call names exists, asked of the runtime itself: the call is
    /// evaluated with `null` arguments, and only an undeclared function fails as undeclared.
    fn function(&self, call: &CallExpr) -> Function {
        let nulls = || call.args.iter().map(|_| literal(LiteralValue::Null)).collect::<Vec<_>>();
        let probe = |target: Option<IdedExpr>| {
            let e = IdedExpr {
                id: 0,
                expr: Expr::Call(CallExpr {
                    func_name: call.func_name.clone(),
                    target: target.map(Box::new),
                    args: nulls(),
                }),
            };
            Value::resolve(&e, self.rt.root())
        };
        let undeclared = |r: &Result<Value, ExecutionError>| matches!(r, Err(ExecutionError::UndeclaredReference(n)) if **n == call.func_name);
        let Some(target) = &call.target else {
            return if undeclared(&probe(None)) { Function::Unknown } else { Function::Known };
        };
        // `regex.replace(…)`: a target spelling a name no variable has is a namespace.
        if root_name(target).is_some_and(|n| !self.is_bound(n)) {
            return match probe(Some((**target).clone())) {
                Err(ExecutionError::UndeclaredReference(_)) => Function::Unknown,
                _ => Function::Qualified,
            };
        }
        if undeclared(&probe(Some(literal(LiteralValue::Null)))) {
            Function::Unknown
        } else {
            Function::Known
        }
    }

    /// A pattern written as a literal compiles at build time, with the dialect `matches` and
    /// `regex.*` use at run time.
    fn regex_literal(&mut self, call: &CallExpr) {
        let pattern = match (call.func_name.as_str(), call.target.as_deref()) {
            ("matches", Some(_)) => call.args.first(),
            ("matches", None) => call.args.get(1),
            ("replace" | "extract" | "extractAll", Some(t)) if matches!(&t.expr, Expr::Ident(n) if n == "regex") => {
                call.args.get(1)
            }
            _ => None,
        };
        if let Some(IdedExpr { expr: Expr::Literal(LiteralValue::String(p)), .. }) = pattern {
            if let Err(e) = namespaced::compile(&call.func_name, p.inner()) {
                self.problems.push(format!("invalid regular expression `{}`: {}", p.inner(), e));
            }
        }
    }

    fn is_known_name(&self, name: &str) -> bool {
        self.is_bound(name) || self.resolves(&ident(name))
    }

    /// Whether `name` is a variable: one of the request's or bound by a comprehension.
    fn is_bound(&self, name: &str) -> bool {
        ROOTS.contains(&name) || self.bound.iter().any(|b| b == name)
    }

    /// Whether `e` evaluates with no request at all: a type name (`int`, `string`, …).
    fn resolves(&self, e: &IdedExpr) -> bool {
        Value::resolve(e, self.rt.root()).is_ok()
    }
}

enum Function {
    Known,
    /// A function named with its namespace, as `math.greatest`.
    Qualified,
    Unknown,
}

/// The first name of `a.b.c`, when `e` is such a chain of names.
fn root_name(e: &IdedExpr) -> Option<&str> {
    match &e.expr {
        Expr::Ident(n) => Some(n),
        Expr::Select(s) if !s.test => root_name(&s.operand),
        _ => None,
    }
}

fn literal(v: LiteralValue) -> IdedExpr {
    IdedExpr { id: 0, expr: Expr::Literal(v) }
}

fn ident(name: &str) -> IdedExpr {
    IdedExpr { id: 0, expr: Expr::Ident(name.to_string()) }
}
