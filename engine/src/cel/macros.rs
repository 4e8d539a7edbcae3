//! Parse-time rewrites that give the `cel` crate Cerbos's and cel-go's extra syntax:
//! `now()`, `x.timeSince()`, `cel.bind`, two-variable comprehensions and the
//! `transformList` / `transformMap` / `transformMapEntry` macros.
//!
//! Two-variable forms iterate over `@pairs(target)`, a list of `[key, value]` pairs
//! (index and element for lists), binding both names with nested `cel.bind`s.

use cel::common::ast::{operators, CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{DeclarationError, Env};

use super::tz::{IN_ZONE_FN, ZONES_VAR};

/// The timestamp getters that take a time zone.
const ZONED_GETTERS: [&str; 10] = [
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDayOfMonth",
    "getDate",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// The variable holding the request's `now`.
pub(crate) const NOW_VAR: &str = "@now";
const PAIR: &str = "@pair";
const RESULT: &str = "@result";

type Args<'a> = &'a mut Vec<IdedExpr>;

fn call(h: &mut MacroExprHelper<'_>, func: &str, args: Vec<IdedExpr>) -> IdedExpr {
    h.next_expr(Expr::Call(CallExpr { func_name: func.to_string(), target: None, args }))
}

fn ident(h: &mut MacroExprHelper<'_>, name: &str) -> IdedExpr {
    h.next_expr(Expr::Ident(name.to_string()))
}

fn int(h: &mut MacroExprHelper<'_>, v: i64) -> IdedExpr {
    h.next_expr(Expr::Literal(LiteralValue::Int(v.into())))
}

fn boolean(h: &mut MacroExprHelper<'_>, v: bool) -> IdedExpr {
    h.next_expr(Expr::Literal(LiteralValue::Boolean(v.into())))
}

fn empty_list(h: &mut MacroExprHelper<'_>) -> IdedExpr {
    h.next_expr(Expr::List(ListExpr { elements: vec![], optional_indices: vec![] }))
}

fn ident_name(h: &MacroExprHelper<'_>, e: IdedExpr) -> Result<String, ParseError> {
    match e.expr {
        Expr::Ident(name) => Ok(name),
        _ => Err(h.new_error(e.id, "argument must be a simple name")),
    }
}

/// `cel.bind(name, init, body)` as a comprehension over an empty range.
fn bind(h: &mut MacroExprHelper<'_>, name: String, init: IdedExpr, body: IdedExpr) -> IdedExpr {
    let range = empty_list(h);
    let cond = boolean(h, false);
    let step = ident(h, &name);
    h.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: range,
        iter_var: "#unused".to_string(),
        iter_var2: None,
        accu_var: name,
        accu_init: init,
        loop_cond: cond,
        loop_step: step,
        result: body,
    })))
}

/// Wraps `body` so that `k` and `v` are bound to the current pair's key and value.
fn bind_pair(h: &mut MacroExprHelper<'_>, k: String, v: String, body: IdedExpr) -> IdedExpr {
    let pair = ident(h, PAIR);
    let one = int(h, 1);
    let value = call(h, operators::INDEX, vec![pair, one]);
    let inner = if v == "_" { body } else { bind(h, v, value, body) };
    if k == "_" {
        return inner;
    }
    let pair = ident(h, PAIR);
    let zero = int(h, 0);
    let key = call(h, operators::INDEX, vec![pair, zero]);
    bind(h, k, key, inner)
}

struct Fold {
    init: IdedExpr,
    cond: IdedExpr,
    step: IdedExpr,
    result: IdedExpr,
}

fn fold_pairs(h: &mut MacroExprHelper<'_>, target: IdedExpr, f: Fold) -> IdedExpr {
    let range = call(h, "@pairs", vec![target]);
    h.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: range,
        iter_var: PAIR.to_string(),
        iter_var2: None,
        accu_var: RESULT.to_string(),
        accu_init: f.init,
        loop_cond: f.cond,
        loop_step: f.step,
        result: f.result,
    })))
}

/// Takes `(k, v, rest...)` off a two-variable macro call.
fn two_vars(h: &MacroExprHelper<'_>, args: Args<'_>) -> Result<(String, String, Vec<IdedExpr>), ParseError> {
    let mut drained: Vec<IdedExpr> = std::mem::take(args);
    let rest = drained.split_off(2.min(drained.len()));
    let mut it = drained.into_iter();
    let (Some(k), Some(v)) = (it.next(), it.next()) else {
        return Err(h.new_error(0, "expected two variable names"));
    };
    Ok((ident_name(h, k)?, ident_name(h, v)?, rest))
}

fn quantifier(kind: &'static str) -> Macro {
    Macro::receiver(kind, 3, move |h, target, args| {
        let Some(t) = target.take() else { return Ok(None) };
        let (k, v, mut rest) = two_vars(h, args)?;
        let Some(body) = rest.pop() else { return Ok(None) };
        let body = bind_pair(h, k, v, body);
        let acc = ident(h, RESULT);
        let fold = match kind {
            "all" => {
                let init = boolean(h, true);
                let cond = call(h, operators::NOT_STRICTLY_FALSE, vec![acc]);
                let acc2 = ident(h, RESULT);
                let step = call(h, operators::LOGICAL_AND, vec![acc2, body]);
                let result = ident(h, RESULT);
                Fold { init, cond, step, result }
            }
            "exists" => {
                let init = boolean(h, false);
                let not = call(h, operators::LOGICAL_NOT, vec![acc]);
                let cond = call(h, operators::NOT_STRICTLY_FALSE, vec![not]);
                let acc2 = ident(h, RESULT);
                let step = call(h, operators::LOGICAL_OR, vec![acc2, body]);
                let result = ident(h, RESULT);
                Fold { init, cond, step, result }
            }
            _ => {
                let init = int(h, 0);
                let cond = boolean(h, true);
                let one = int(h, 1);
                let plus = call(h, operators::ADD, vec![acc, one]);
                let acc2 = ident(h, RESULT);
                let step = call(h, operators::CONDITIONAL, vec![body, plus, acc2]);
                let acc3 = ident(h, RESULT);
                let one = int(h, 1);
                let result = call(h, operators::EQUALS, vec![acc3, one]);
                Fold { init, cond, step, result }
            }
        };
        Ok(Some(fold_pairs(h, t, fold)))
    })
}

/// `transformList` / `transformMap` / `transformMapEntry` with or without a filter.
fn transform(kind: &'static str, arity: usize) -> Macro {
    Macro::receiver(kind, arity, move |h, target, args| {
        let Some(t) = target.take() else { return Ok(None) };
        let (k, v, mut rest) = two_vars(h, args)?;
        let Some(expr) = rest.pop() else { return Ok(None) };
        let filter = rest.pop();
        // Each step appends one element to a list; maps are assembled at the end.
        let element = match kind {
            "transformMap" => {
                let key = ident(h, &k);
                h.next_expr(Expr::List(ListExpr { elements: vec![key, expr], optional_indices: vec![] }))
            }
            _ => expr,
        };
        let single = h.next_expr(Expr::List(ListExpr { elements: vec![element], optional_indices: vec![] }));
        let acc = ident(h, RESULT);
        let appended = call(h, operators::ADD, vec![acc, single]);
        let step_inner = match filter {
            Some(f) => {
                let acc = ident(h, RESULT);
                call(h, operators::CONDITIONAL, vec![f, appended, acc])
            }
            None => appended,
        };
        let step = bind_pair(h, k, v, step_inner);
        let init = empty_list(h);
        let cond = boolean(h, true);
        let acc = ident(h, RESULT);
        let result = match kind {
            "transformMap" => call(h, "@pairs_to_map", vec![acc]),
            "transformMapEntry" => call(h, "@merge_maps", vec![acc]),
            _ => acc,
        };
        Ok(Some(fold_pairs(h, t, Fold { init, cond, step, result })))
    })
}

/// Adds every macro of this module to `env`.
pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_macro(Macro::global("now", 0, |h, _t, _a| Ok(Some(ident(h, NOW_VAR)))))?;
    env.add_macro(Macro::receiver("timeSince", 0, |h, t, _a| {
        let Some(t) = t.take() else { return Ok(None) };
        let now = ident(h, NOW_VAR);
        Ok(Some(call(h, operators::SUBSTRACT, vec![now, t])))
    }))?;
    env.add_macro(Macro::receiver("bind", 3, |h, t, args| {
        if !matches!(t.as_ref().map(|e| &e.expr), Some(Expr::Ident(n)) if n == "cel") {
            return Ok(None);
        }
        let (Some(body), Some(init), Some(name)) = (args.pop(), args.pop(), args.pop()) else {
            return Ok(None);
        };
        let name = ident_name(h, name)?;
        Ok(Some(bind(h, name, init, body)))
    }))?;
    for kind in ["all", "exists", "existsOne", "exists_one"] {
        env.add_macro(quantifier(kind))?;
    }
    for kind in ["transformList", "transformMap", "transformMapEntry"] {
        env.add_macro(transform(kind, 3))?;
        env.add_macro(transform(kind, 4))?;
    }
    // `t.getX(tz)` -> `@inZone(t, tz, @zones).getX()`: zones come from the bundle (see `tz.rs`).
    for getter in ZONED_GETTERS {
        env.add_macro(Macro::receiver(getter, 1, move |h, t, args| {
            let Some(tz) = args.pop() else { return Ok(None) };
            let Some(t) = t.take() else { return Ok(None) };
            let zones = ident(h, ZONES_VAR);
            let shifted = call(h, IN_ZONE_FN, vec![t, tz, zones]);
            let target = Some(Box::new(shifted));
            Ok(Some(h.next_expr(Expr::Call(CallExpr { func_name: getter.to_string(), target, args: vec![] }))))
        }))?;
    }
    Ok(())
}
