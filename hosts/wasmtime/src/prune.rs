//! Drops the code a pre-initialized snapshot can no longer run.
//!
//! After the snapshot, the initializer export is gone, and with it the only path to the code
//! that decodes the bundle and builds the CEL runtime (the guest reaches them from
//! `authz_preinitialize` alone: see `component/src/guest.rs` and the engine's `prepared`
//! feature). Every function that no export, table element or `ref.func` reaches gets the body
//! `unreachable`: indices stay as they are, so nothing else in the module changes.

use authz_component::bake::{write_section, write_u32};
use std::collections::HashSet;
use wasmparser::{ElementItems, ExternalKind, FunctionBody, Operator, Parser, Payload, TypeRef};

/// `unreachable` with no locals: size 3, no local groups, `unreachable`, `end`.
const STUB: [u8; 4] = [3, 0, 0x00, 0x0b];

/// The module with every unreachable function's body replaced by `unreachable`, and how many
/// functions were replaced.
pub(crate) fn prune(module: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let err = |e: wasmparser::BinaryReaderError| format!("pruning the snapshot: {e}");
    let mut imported = 0u32;
    let mut roots: Vec<u32> = Vec::new();
    let mut bodies: Vec<FunctionBody<'_>> = Vec::new();
    // (where the code section's id byte is, where its contents end)
    let mut code_section = None;
    let mut section_end: u64 = 8;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(err)?;
        let section_start = section_end;
        if let Some((_, range)) = payload.as_section() {
            section_end = range.end;
        }
        match payload {
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    if matches!(import.map_err(err)?.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)) {
                        imported += 1;
                    }
                }
            }
            Payload::ExportSection(r) => {
                for export in r {
                    let export = export.map_err(err)?;
                    if export.kind == ExternalKind::Func {
                        roots.push(export.index);
                    }
                }
            }
            Payload::StartSection { func, .. } => roots.push(func),
            Payload::ElementSection(r) => {
                for element in r {
                    match element.map_err(err)?.items {
                        ElementItems::Functions(fs) => {
                            for f in fs {
                                roots.push(f.map_err(err)?);
                            }
                        }
                        ElementItems::Expressions(_, exprs) => {
                            for expr in exprs {
                                for op in expr.map_err(err)?.get_operators_reader() {
                                    if let Operator::RefFunc { function_index } = op.map_err(err)? {
                                        roots.push(function_index);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Payload::GlobalSection(r) => {
                for global in r {
                    for op in global.map_err(err)?.init_expr.get_operators_reader() {
                        if let Operator::RefFunc { function_index } = op.map_err(err)? {
                            roots.push(function_index);
                        }
                    }
                }
            }
            Payload::CodeSectionStart { .. } => code_section = Some((section_start, section_end)),
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }
    let Some((code_start, code_end)) = code_section else { return Ok((module.to_vec(), 0)) };

    // Everything the roots call, transitively.
    let mut live: HashSet<u32> = HashSet::new();
    while let Some(f) = roots.pop() {
        if !live.insert(f) {
            continue;
        }
        let Some(body) = f.checked_sub(imported).and_then(|i| bodies.get(i as usize)) else { continue };
        for op in body.get_operators_reader().map_err(err)? {
            match op.map_err(err)? {
                Operator::Call { function_index }
                | Operator::ReturnCall { function_index }
                | Operator::RefFunc { function_index } => roots.push(function_index),
                _ => {}
            }
        }
    }

    let mut contents = Vec::new();
    write_u32(&mut contents, size(bodies.len()));
    let mut pruned = 0;
    for (i, body) in bodies.iter().enumerate() {
        let index = u32::try_from(i).ok().and_then(|i| i.checked_add(imported));
        if index.is_some_and(|f| live.contains(&f)) {
            let range = body.range();
            let range = offset(range.start)..offset(range.end);
            let bytes = module.get(range).ok_or("pruning the snapshot: a body is out of range")?;
            write_u32(&mut contents, size(bytes.len()));
            contents.extend_from_slice(bytes);
        } else {
            contents.extend_from_slice(&STUB);
            pruned += 1;
        }
    }
    let (code_start, code_end) = (offset(code_start), offset(code_end));
    let (Some(before), Some(after)) = (module.get(..code_start), module.get(code_end..)) else {
        return Err("pruning the snapshot: the code section is out of range".into());
    };
    let mut out = Vec::with_capacity(module.len());
    out.extend_from_slice(before);
    write_section(&mut out, 10, &contents);
    out.extend_from_slice(after);
    Ok((out, pruned))
}

/// A file offset as an index (out of range, and so refused by `get`, if it does not fit).
fn offset(at: u64) -> usize {
    usize::try_from(at).unwrap_or(usize::MAX)
}

/// A count or size as wasm encodes it (no module this large validates anyway).
fn size(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test")]
mod tests {
    use super::prune;
    use wasm_encoder::{
        CodeSection, ConstExpr, ElementSection, Elements, ExportKind, ExportSection, Function, FunctionSection,
        Instruction, Module, RefType, TableSection, TableType, TypeSection,
    };

    /// f0 exported calls f1; f2 is called by nobody; f3 is in the table; f4 only by f2.
    fn module() -> Vec<u8> {
        let mut m = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], [wasm_encoder::ValType::I32]);
        m.section(&types);
        let mut funcs = FunctionSection::new();
        for _ in 0..5 {
            funcs.function(0);
        }
        m.section(&funcs);
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            minimum: 1,
            maximum: None,
            table64: false,
            shared: false,
        });
        m.section(&tables);
        let mut exports = ExportSection::new();
        exports.export("run", ExportKind::Func, 0);
        m.section(&exports);
        let mut elems = ElementSection::new();
        elems.active(Some(0), &ConstExpr::i32_const(0), Elements::Functions([3].as_slice().into()));
        m.section(&elems);
        let mut code = CodeSection::new();
        for calls in [Some(1), None, Some(4), None, None] {
            let mut f = Function::new([]);
            match calls {
                Some(callee) => f.instruction(&Instruction::Call(callee)),
                None => f.instruction(&Instruction::I32Const(7)),
            };
            f.instruction(&Instruction::End);
            code.function(&f);
        }
        m.section(&code);
        m.finish()
    }

    #[test]
    fn only_unreachable_functions_lose_their_bodies() {
        let (out, pruned) = prune(&module()).unwrap();
        assert_eq!(pruned, 2);
        wasmparser::Validator::new().validate_all(&out).unwrap();
        let mut bodies = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&out) {
            if let wasmparser::Payload::CodeSectionEntry(b) = payload.unwrap() {
                let ops: Vec<String> =
                    b.get_operators_reader().unwrap().into_iter().map(|op| format!("{:?}", op.unwrap())).collect();
                bodies.push(ops.join(" "));
            }
        }
        assert_eq!(bodies[0], "Call { function_index: 1 } End");
        assert_eq!(bodies[1], "I32Const { value: 7 } End");
        assert_eq!(bodies[2], "Unreachable End");
        assert_eq!(bodies[3], "I32Const { value: 7 } End");
        assert_eq!(bodies[4], "Unreachable End");
    }
}
