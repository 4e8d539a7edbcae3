//! Baking: puts a serialized bundle into a generic component's [`slot`](crate::slot).
//!
//! The generic component's data holds the slot header (found by its magic bytes): capacity,
//! length 0 and the address of the reserved, zeroed region. Baking sets the length and appends
//! one active data segment with the bundle at that address. Nothing else in the component
//! changes, so the result is exactly as valid as the input, and baking needs neither a
//! compiler nor wasm tooling: only this rewrite of the binary's section framing.

use crate::slot::MAGIC;

const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// Component-model binary section holding a core module.
const COMPONENT_CORE_MODULE: u8 = 1;
/// Core module data section.
const DATA: u8 = 11;
/// Core module data count section.
const DATA_COUNT: u8 = 12;
/// Slot header layout on wasm32 (see `slot::Header`).
const CAPACITY_AT: usize = 16;
const LEN_AT: usize = 20;
const ADDR_AT: usize = 24;
const HEADER_LEN: usize = 28;

/// Why a component could not be baked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BakeError {
    /// The bytes are not a well-formed WebAssembly component.
    #[error("not a WebAssembly component: {0}")]
    Malformed(&'static str),
    /// The component holds no bundle slot, or more than one.
    #[error("not a generic authz component: found {0} bundle slots, expected 1")]
    NoSlot(usize),
    /// The component already carries a bundle.
    #[error("the component already has a bundle baked in: bake the generic component")]
    AlreadyBaked,
    /// The host's step on the baked core module ([`bake_with`]) failed.
    #[error("finishing the baked module: {0}")]
    Finish(String),
    /// The bundle is larger than the slot.
    #[error("the bundle is {size} bytes; the component's slot holds {capacity}")]
    TooLarge {
        /// Bundle size.
        size: usize,
        /// Slot capacity.
        capacity: usize,
    },
}

type Result<T> = std::result::Result<T, BakeError>;

/// Writes `bundle` into the slot of a generic `component`, returning the baked component. Only
/// the pre-initializer decodes the bundle, so the result answers nothing until it is
/// pre-initialized: `authz_wasmtime::bake::bake` does both (this is its first step).
pub fn bake(component: &[u8], bundle: &[u8]) -> Result<Vec<u8>> {
    bake_with(component, bundle, Ok)
}

/// Like [`bake`], with `finish` applied to the baked core module before it goes back into the
/// component: how a host pre-initializes it (a snapshot that keeps the module's exports).
pub fn bake_with(
    component: &[u8],
    bundle: &[u8],
    finish: impl FnOnce(Vec<u8>) -> std::result::Result<Vec<u8>, String>,
) -> Result<Vec<u8>> {
    let sections = sections(component, [0x0d, 0x00, 0x01, 0x00])?;
    let holders: Vec<usize> = sections
        .iter()
        .enumerate()
        .filter(|(_, (id, body))| *id == COMPONENT_CORE_MODULE && contains(body, &MAGIC))
        .map(|(i, _)| i)
        .collect();
    let [holder] = holders.as_slice() else { return Err(BakeError::NoSlot(holders.len())) };
    let (_, module) = sections.get(*holder).ok_or(BakeError::NoSlot(0))?;
    let module = finish(bake_module(module, bundle)?).map_err(BakeError::Finish)?;
    let mut out = component.get(..8).ok_or(BakeError::Malformed("truncated header"))?.to_vec();
    for (i, (id, body)) in sections.iter().enumerate() {
        if i == *holder {
            write_section(&mut out, *id, &module);
        } else {
            write_section(&mut out, *id, body);
        }
    }
    Ok(out)
}

/// One data segment: its raw bytes, and for active `i32.const` segments the address and content.
struct Segment<'a> {
    raw: &'a [u8],
    /// The segment's kind and offset expression (everything before the content's length).
    prefix: &'a [u8],
    active: Option<(u32, &'a [u8])>,
}

fn bake_module(module: &[u8], bundle: &[u8]) -> Result<Vec<u8>> {
    let sections = sections(module, [0x01, 0x00, 0x00, 0x00])?;
    let data = sections.iter().find(|(id, _)| *id == DATA).map(|(_, body)| *body).ok_or(BakeError::NoSlot(0))?;
    let segments = segments(data)?;
    let hits: Vec<(usize, usize)> = segments
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.active.map(|(_, content)| (i, content)))
        .flat_map(|(i, content)| positions(content, &MAGIC).into_iter().map(move |p| (i, p)))
        .collect();
    let [(seg, pos)] = hits.as_slice() else { return Err(BakeError::NoSlot(hits.len())) };
    let Some((_, content)) = segments.get(*seg).and_then(|s| s.active) else { return Err(BakeError::NoSlot(0)) };
    let header = content.get(*pos..pos + HEADER_LEN).ok_or(BakeError::Malformed("truncated bundle slot header"))?;
    let field = |at: usize| header.get(at..at + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_le_bytes);
    let (Some(capacity), Some(len), Some(addr)) = (field(CAPACITY_AT), field(LEN_AT), field(ADDR_AT)) else {
        return Err(BakeError::Malformed("truncated bundle slot header"));
    };
    if len != 0 {
        return Err(BakeError::AlreadyBaked);
    }
    let size = u32::try_from(bundle.len()).ok().filter(|s| *s <= capacity);
    let Some(size) = size else { return Err(BakeError::TooLarge { size: bundle.len(), capacity: capacity as usize }) };
    let addr = i32::try_from(addr).map_err(|_| BakeError::Malformed("bundle slot address out of range"))?;

    let mut new_data = Vec::with_capacity(data.len() + bundle.len() + 16);
    write_u32(&mut new_data, u32::try_from(segments.len() + 1).map_err(|_| BakeError::Malformed("too many segments"))?);
    for (i, s) in segments.iter().enumerate() {
        if i != *seg {
            new_data.extend_from_slice(s.raw);
            continue;
        }
        // Same segment with the header's length field set.
        let mut patched = content.to_vec();
        if let Some(f) = patched.get_mut(pos + LEN_AT..pos + LEN_AT + 4) {
            f.copy_from_slice(&size.to_le_bytes());
        }
        new_data.extend_from_slice(s.prefix);
        write_u32(&mut new_data, u32::try_from(patched.len()).map_err(|_| BakeError::Malformed("bad data segment"))?);
        new_data.extend_from_slice(&patched);
    }
    // The bundle: an active segment for memory 0 at the slot's reserved address.
    new_data.push(0x00);
    new_data.push(0x41);
    write_i32(&mut new_data, addr);
    new_data.push(0x0b);
    write_u32(&mut new_data, size);
    new_data.extend_from_slice(bundle);

    let mut out = module.get(..8).ok_or(BakeError::Malformed("truncated module header"))?.to_vec();
    for (id, body) in &sections {
        match *id {
            DATA => write_section(&mut out, DATA, &new_data),
            DATA_COUNT => {
                let mut count = Vec::new();
                write_u32(&mut count, u32::try_from(segments.len() + 1).unwrap_or(u32::MAX));
                write_section(&mut out, DATA_COUNT, &count);
            }
            _ => write_section(&mut out, *id, body),
        }
    }
    Ok(out)
}

/// Splits a module or component binary into (section id, body), checking the preamble.
fn sections(bytes: &[u8], version: [u8; 4]) -> Result<Vec<(u8, &[u8])>> {
    if bytes.get(..4) != Some(WASM_MAGIC.as_slice()) || bytes.get(4..8) != Some(version.as_slice()) {
        return Err(BakeError::Malformed("unexpected preamble"));
    }
    let mut r = Reader { bytes, pos: 8 };
    let mut out = Vec::new();
    while r.pos < bytes.len() {
        let id = r.byte()?;
        let len = r.u32()? as usize;
        out.push((id, r.take(len)?));
    }
    Ok(out)
}

fn segments(data: &[u8]) -> Result<Vec<Segment<'_>>> {
    let mut r = Reader { bytes: data, pos: 0 };
    let count = r.u32()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let start = r.pos;
        let active = match r.u32()? {
            0 => Some(r.const_offset()?),
            1 => None,
            2 => {
                let memory = r.u32()?;
                let offset = r.const_offset()?;
                (memory == 0).then_some(offset)
            }
            _ => return Err(BakeError::Malformed("unknown data segment kind")),
        };
        let prefix = data.get(start..r.pos).ok_or(BakeError::Malformed("bad data segment"))?;
        let len = r.u32()? as usize;
        let content = r.take(len)?;
        let raw = data.get(start..r.pos).ok_or(BakeError::Malformed("bad data segment"))?;
        out.push(Segment { raw, prefix, active: active.map(|a| (a, content)) });
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let b = *self.bytes.get(self.pos).ok_or(BakeError::Malformed("unexpected end"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = self.bytes.get(self.pos..self.pos.saturating_add(n)).ok_or(BakeError::Malformed("unexpected end"))?;
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| BakeError::Malformed("integer too large"));
            }
        }
        Err(BakeError::Malformed("integer too long"))
    }

    fn i32(&mut self) -> Result<i32> {
        let mut value: i64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            value |= i64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if shift < 28 && b & 0x40 != 0 {
                    value |= -1i64 << (shift + 7);
                }
                // Five-byte encodings carry bits above 32 that the spec requires to be sign copies.
                return Ok(value as i32);
            }
        }
        Err(BakeError::Malformed("integer too long"))
    }

    /// An `i32.const N; end` offset expression, as an address.
    fn const_offset(&mut self) -> Result<u32> {
        if self.byte()? != 0x41 {
            return Err(BakeError::Malformed("data segment offset is not an i32 constant"));
        }
        let offset = self.i32()?;
        if self.byte()? != 0x0b {
            return Err(BakeError::Malformed("data segment offset is not an i32 constant"));
        }
        Ok(offset as u32)
    }
}

/// Appends a module section: its id, its size, its contents.
pub fn write_section(out: &mut Vec<u8>, id: u8, body: &[u8]) {
    out.push(id);
    write_u32(out, u32::try_from(body.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(body);
}

/// Appends `v` as an unsigned LEB128 number, as wasm encodes counts and sizes.
pub fn write_u32(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn write_i32(out: &mut Vec<u8>, mut v: i32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        out.push(if done { b } else { b | 0x80 });
        if done {
            return;
        }
    }
}

fn positions(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
#[path = "bake_tests.rs"]
mod tests;
