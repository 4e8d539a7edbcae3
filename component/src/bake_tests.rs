//! Bakes hand-assembled components and checks the result with `wasmparser`, an independent reader.

use super::*;
use crate::slot::MAGIC;
use wasmparser::{DataKind, Parser, Payload, Validator, WasmFeatures};

const ADDR: u32 = 4096;

fn leb(v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    write_u32(&mut out, v);
    out
}

fn section(id: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![id];
    out.extend(leb(body.len() as u32));
    out.extend_from_slice(body);
    out
}

fn active_segment(offset: u8, content: &[u8]) -> Vec<u8> {
    // i32.const with a one-byte LEB (offset < 64).
    let mut out = vec![0x00, 0x41, offset, 0x0b];
    out.extend(leb(content.len() as u32));
    out.extend_from_slice(content);
    out
}

/// A core module with one page of memory, a data count section and two segments, one of them
/// holding a slot header with the given capacity and length.
fn module(capacity: u32, len: u32) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend(capacity.to_le_bytes());
    header.extend(len.to_le_bytes());
    header.extend(ADDR.to_le_bytes());
    let mut slot_segment = b"before".to_vec();
    slot_segment.extend(header);
    slot_segment.extend(b"after");
    let mut data = vec![2];
    data.extend(active_segment(8, b"other data"));
    data.extend(active_segment(32, &slot_segment));
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend(section(5, &[1, 0x00, 1])); // memory: min 1 page
    m.extend(section(12, &[2])); // data count
    m.extend(section(11, &data));
    m.extend(section(0, b"\x04namex")); // a custom section, copied as is
    m
}

fn component(module: &[u8]) -> Vec<u8> {
    let mut c = b"\0asm\x0d\0\x01\0".to_vec();
    c.extend(section(COMPONENT_CORE_MODULE, module));
    c
}

/// The baked module's data segments as (address, bytes), read by wasmparser.
fn segments_of(component: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    for payload in Parser::new(0).parse_all(component) {
        if let Payload::DataSection(reader) = payload.unwrap() {
            for data in reader {
                let data = data.unwrap();
                let DataKind::Active { offset_expr, .. } = data.kind else { panic!("passive segment") };
                let mut ops = offset_expr.get_operators_reader();
                let wasmparser::Operator::I32Const { value } = ops.read().unwrap() else { panic!("offset") };
                out.push((value as u32, data.data.to_vec()));
            }
        }
    }
    out
}

fn validate(bytes: &[u8]) {
    Validator::new_with_features(WasmFeatures::all()).validate_all(bytes).unwrap();
}

#[test]
fn bake_sets_the_length_and_adds_the_bundle_at_the_slot_address() {
    let generic = component(&module(64, 0));
    validate(&generic);
    let baked = bake(&generic, b"the bundle").unwrap();
    validate(&baked);
    let segments = segments_of(&baked);
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0], (8, b"other data".to_vec()));
    let (addr, slot) = &segments[1];
    assert_eq!(*addr, 32);
    let header_at = 6;
    assert_eq!(&slot[header_at..header_at + 16], &MAGIC);
    assert_eq!(&slot[header_at + 16..header_at + 20], &64u32.to_le_bytes());
    assert_eq!(&slot[header_at + 20..header_at + 24], &10u32.to_le_bytes());
    assert!(slot.ends_with(b"after"));
    assert_eq!(segments[2], (ADDR, b"the bundle".to_vec()));
    // The data count section follows the new segment count (the validator checks it), and the
    // baked component grows by the bundle plus a few bytes of framing.
    assert!(baked.len() - generic.len() < b"the bundle".len() + 12);
}

#[test]
fn bake_refuses_oversized_bundles_foreign_bytes_and_baked_components() {
    let generic = component(&module(4, 0));
    assert_eq!(bake(&generic, b"12345"), Err(BakeError::TooLarge { size: 5, capacity: 4 }));
    assert_eq!(bake(&component(&module(64, 7)), b"x"), Err(BakeError::AlreadyBaked));
    let once = bake(&component(&module(64, 0)), b"x").unwrap();
    assert_eq!(bake(&once, b"y"), Err(BakeError::AlreadyBaked));
    assert!(matches!(bake(b"not wasm at all", b"x"), Err(BakeError::Malformed(_))));
    assert_eq!(bake(&component(b"\0asm\x01\0\0\0"), b"x"), Err(BakeError::NoSlot(0)));
    let mut two = component(&module(64, 0));
    two.extend(section(COMPONENT_CORE_MODULE, &module(64, 0)));
    assert_eq!(bake(&two, b"x"), Err(BakeError::NoSlot(2)));
}

#[test]
fn bake_never_panics_on_truncated_input() {
    let generic = component(&module(64, 0));
    for cut in 0..generic.len() {
        let _ = bake(&generic[..cut], b"bundle");
    }
}

#[test]
fn leb_encodings_round_trip() {
    for v in [0u32, 1, 63, 64, 127, 128, 4096, 1 << 20, u32::MAX] {
        let bytes = leb(v);
        assert_eq!(Reader { bytes: &bytes, pos: 0 }.u32().unwrap(), v);
    }
    for v in [0i32, 1, -1, 63, 64, -64, -65, 1 << 20, i32::MAX, i32::MIN] {
        let mut bytes = Vec::new();
        write_i32(&mut bytes, v);
        assert_eq!(Reader { bytes: &bytes, pos: 0 }.i32().unwrap(), v);
    }
}
