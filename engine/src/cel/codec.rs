//! A serializable mirror of the `cel` crate's expression tree, so that bundles
//! carry parsed conditions and loading one never runs the CEL parser.

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedEntryExpr, IdedExpr, ListExpr, LiteralValue, MapEntryExpr,
    MapExpr, SelectExpr, StructExpr, StructFieldExpr,
};
use cel::common::types::{CelBool, CelBytes, CelDouble, CelInt, CelString, CelUInt};
use serde::{Deserialize, Serialize};

/// An expression node with its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Node(u64, Kind);

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Kind {
    Unspecified,
    Call(String, Option<Box<Node>>, Vec<Node>),
    Comprehension(Box<Comp>),
    Ident(String),
    List(Vec<Node>, Vec<usize>),
    Literal(Lit),
    Map(Vec<Entry>),
    Select(Box<Node>, String, bool),
    Struct(String, Vec<Entry>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Comp {
    range: Node,
    var: String,
    var2: Option<String>,
    accu_var: String,
    init: Node,
    cond: Node,
    step: Node,
    result: Node,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Entry {
    Field(u64, String, Node, bool),
    MapEntry(u64, Node, Node, bool),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Lit {
    Bool(bool),
    Bytes(Vec<u8>),
    Double(f64),
    Int(i64),
    Null,
    String(String),
    UInt(u64),
}

/// Encodes a parsed expression.
pub(crate) fn encode(e: &IdedExpr) -> Node {
    let kind = match &e.expr {
        Expr::Unspecified => Kind::Unspecified,
        Expr::Call(c) => Kind::Call(
            c.func_name.clone(),
            c.target.as_ref().map(|t| Box::new(encode(t))),
            c.args.iter().map(encode).collect(),
        ),
        Expr::Comprehension(c) => Kind::Comprehension(Box::new(Comp {
            range: encode(&c.iter_range),
            var: c.iter_var.clone(),
            var2: c.iter_var2.clone(),
            accu_var: c.accu_var.clone(),
            init: encode(&c.accu_init),
            cond: encode(&c.loop_cond),
            step: encode(&c.loop_step),
            result: encode(&c.result),
        })),
        Expr::Ident(n) => Kind::Ident(n.clone()),
        Expr::List(l) => Kind::List(l.elements.iter().map(encode).collect(), l.optional_indices.clone()),
        Expr::Literal(l) => Kind::Literal(match l {
            LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
            LiteralValue::Bytes(b) => Lit::Bytes(b.inner().to_vec()),
            LiteralValue::Double(d) => Lit::Double(*d.inner()),
            LiteralValue::Int(i) => Lit::Int(*i.inner()),
            LiteralValue::Null => Lit::Null,
            LiteralValue::String(s) => Lit::String(s.inner().to_string()),
            LiteralValue::UInt(u) => Lit::UInt(*u.inner()),
        }),
        Expr::Map(m) => Kind::Map(m.entries.iter().map(encode_entry).collect()),
        Expr::Select(s) => Kind::Select(Box::new(encode(&s.operand)), s.field.clone(), s.test),
        Expr::Struct(s) => Kind::Struct(s.type_name.clone(), s.entries.iter().map(encode_entry).collect()),
    };
    Node(e.id, kind)
}

fn encode_entry(e: &IdedEntryExpr) -> Entry {
    match &e.expr {
        EntryExpr::StructField(f) => Entry::Field(e.id, f.field.clone(), encode(&f.value), f.optional),
        EntryExpr::MapEntry(m) => Entry::MapEntry(e.id, encode(&m.key), encode(&m.value), m.optional),
    }
}

/// Rebuilds the expression tree.
pub(crate) fn decode(n: Node) -> IdedExpr {
    let Node(id, kind) = n;
    let expr = match kind {
        Kind::Unspecified => Expr::Unspecified,
        Kind::Call(func_name, target, args) => Expr::Call(CallExpr {
            func_name,
            target: target.map(|t| Box::new(decode(*t))),
            args: args.into_iter().map(decode).collect(),
        }),
        Kind::Comprehension(c) => {
            let c = *c;
            Expr::Comprehension(Box::new(ComprehensionExpr {
                iter_range: decode(c.range),
                iter_var: c.var,
                iter_var2: c.var2,
                accu_var: c.accu_var,
                accu_init: decode(c.init),
                loop_cond: decode(c.cond),
                loop_step: decode(c.step),
                result: decode(c.result),
            }))
        }
        Kind::Ident(n) => Expr::Ident(n),
        Kind::List(elements, optional_indices) => {
            Expr::List(ListExpr { elements: elements.into_iter().map(decode).collect(), optional_indices })
        }
        Kind::Literal(l) => Expr::Literal(match l {
            Lit::Bool(b) => LiteralValue::Boolean(CelBool::from(b)),
            Lit::Bytes(b) => LiteralValue::Bytes(CelBytes::from(b)),
            Lit::Double(d) => LiteralValue::Double(CelDouble::from(d)),
            Lit::Int(i) => LiteralValue::Int(CelInt::from(i)),
            Lit::Null => LiteralValue::Null,
            Lit::String(s) => LiteralValue::String(CelString::from(s)),
            Lit::UInt(u) => LiteralValue::UInt(CelUInt::from(u)),
        }),
        Kind::Map(entries) => Expr::Map(MapExpr { entries: entries.into_iter().map(decode_entry).collect() }),
        Kind::Select(operand, field, test) => {
            Expr::Select(SelectExpr { operand: Box::new(decode(*operand)), field, test })
        }
        Kind::Struct(type_name, entries) => {
            Expr::Struct(StructExpr { type_name, entries: entries.into_iter().map(decode_entry).collect() })
        }
    };
    IdedExpr { id, expr }
}

fn decode_entry(e: Entry) -> IdedEntryExpr {
    match e {
        Entry::Field(id, field, value, optional) => IdedEntryExpr {
            id,
            expr: EntryExpr::StructField(StructFieldExpr { field, value: decode(value), optional }),
        },
        Entry::MapEntry(id, key, value, optional) => IdedEntryExpr {
            id,
            expr: EntryExpr::MapEntry(MapEntryExpr { key: decode(key), value: decode(value), optional }),
        },
    }
}
