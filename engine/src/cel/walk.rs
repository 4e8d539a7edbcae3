//! Walking a compiled expression's tree, and what the walk finds out.

use super::NOW_VAR;
use cel::common::ast::{EntryExpr, Expr, IdedExpr};

/// Calls `f` on `e` and every expression inside it.
pub(crate) fn visit(e: &IdedExpr, f: &mut impl FnMut(&IdedExpr)) {
    f(e);
    match &e.expr {
        Expr::Call(c) => {
            c.target.iter().for_each(|t| visit(t, f));
            c.args.iter().for_each(|a| visit(a, f));
        }
        Expr::Comprehension(c) => {
            for part in [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                visit(part, f);
            }
        }
        Expr::List(l) => l.elements.iter().for_each(|x| visit(x, f)),
        Expr::Map(m) => m.entries.iter().for_each(|x| visit_entry(&x.expr, f)),
        Expr::Struct(s) => s.entries.iter().for_each(|x| visit_entry(&x.expr, f)),
        Expr::Select(s) => visit(&s.operand, f),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn visit_entry(e: &EntryExpr, f: &mut impl FnMut(&IdedExpr)) {
    match e {
        EntryExpr::StructField(x) => visit(&x.value, f),
        EntryExpr::MapEntry(x) => {
            visit(&x.key, f);
            visit(&x.value, f);
        }
    }
}

/// Whether `e` reads the time of the request: `now()` and `timeSince()` both expand to the
/// request's `now` variable.
pub(crate) fn reads_clock(e: &IdedExpr) -> bool {
    let mut found = false;
    visit(e, &mut |e| found |= matches!(&e.expr, Expr::Ident(name) if name == NOW_VAR));
    found
}

/// The variables `e` reads (`V.name`, `variables.name`), or `None` when it reads `V` as a
/// whole (`size(V)`), which needs every variable.
pub(crate) fn variables(e: &IdedExpr) -> Option<Vec<String>> {
    let is_v = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == "V" || n == "variables");
    let mut names = Vec::new();
    // Each `V.name` visits its `V` too: a `V` beyond those is the whole map.
    let (mut selected, mut idents) = (0usize, 0usize);
    visit(e, &mut |x| match &x.expr {
        Expr::Select(s) if is_v(&s.operand) => {
            selected += 1;
            if !names.contains(&s.field) {
                names.push(s.field.clone());
            }
        }
        _ => idents += usize::from(is_v(x)),
    });
    (idents <= selected).then_some(names)
}
