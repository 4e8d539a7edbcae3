//! The bundle slot: where a baked component keeps its serialized bundle.
//!
//! The generic component reserves [`CAPACITY`] bytes of zeroed static memory (free in the
//! binary: zero bytes are not stored) and a small header that points at it. `authz bake`
//! (see [`crate::bake`]) writes the bundle's length into the header and adds one data
//! segment holding the bundle at the reserved address, so the baked component carries the
//! bundle's bytes and nothing more, and instantiation copies them in like any other data.

/// Marks the slot header in the component's data.
pub const MAGIC: [u8; 16] = *b"authz:bundle-v1\0";
/// Bytes reserved for a serialized bundle.
pub const CAPACITY: usize = 8 * 1024 * 1024;

/// The header's layout on wasm32: magic, capacity (u32 LE), length (u32 LE), data address (u32 LE).
#[repr(C)]
pub struct Header {
    magic: [u8; 16],
    capacity: [u8; 4],
    len: [u8; 4],
    data: &'static [u8; CAPACITY],
}

static DATA: [u8; CAPACITY] = [0; CAPACITY];

/// The slot header; its length is 0 in a generic component.
pub static HEADER: Header =
    Header { magic: MAGIC, capacity: (CAPACITY as u32).to_le_bytes(), len: [0; 4], data: &DATA };

/// The baked bundle bytes, if any.
pub fn baked() -> Option<&'static [u8]> {
    // `black_box`: the compiler must read what baking wrote, not fold the generic zeros.
    let header: &'static Header = std::hint::black_box(&HEADER);
    let len = u32::from_le_bytes(header.len) as usize;
    if len == 0 {
        return None;
    }
    header.data.get(..len)
}

#[cfg(test)]
mod tests {
    #[test]
    fn generic_slot_is_empty() {
        assert_eq!(super::baked(), None);
    }
}
