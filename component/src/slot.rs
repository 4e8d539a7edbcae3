//! The bundle slot: where a baked component keeps its serialized bundle.
//!
//! The generic component reserves [`CAPACITY`] bytes of zeroed static memory (free in the
//! binary: zero bytes are not stored) and a small header that points at it. `authz bake`
//! (see [`crate::bake`]) writes the bundle's length into the header and adds one data
//! segment holding the bundle at the reserved address, so the baked component carries the
//! bundle's bytes and nothing more, and instantiation copies them in like any other data.
//! The pre-initializer decodes them and then [`release`]s the slot (zeroes it), so the
//! snapshot `authz bake` writes holds the decoded bundle only, not its bytes as well.

use std::cell::UnsafeCell;

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
    data: &'static Data,
}

/// The reserved bytes. Only [`release`] writes them, once they are no longer read.
#[repr(transparent)]
pub struct Data(UnsafeCell<[u8; CAPACITY]>);

// SAFETY: the component is single-threaded (wasm32 without atomics), natively nothing writes
// the slot, and in the component only the pre-initializer writes it, after its last read.
#[expect(unsafe_code, reason = "the slot is written once, by the single-threaded pre-initializer")]
unsafe impl Sync for Data {}

static DATA: Data = Data(UnsafeCell::new([0; CAPACITY]));

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
    // SAFETY: nothing writes the slot while this borrow lives: see `release`.
    #[expect(unsafe_code, reason = "reading the slot that baking filled")]
    let data: &'static [u8; CAPACITY] = unsafe { &*header.data.0.get() };
    data.get(..len)
}

/// Zeroes the slot, so that a pre-initialization snapshot does not carry the bundle's bytes.
///
/// # Safety
/// No slice [`baked`] returned may be used afterwards.
#[cfg(target_arch = "wasm32")]
#[expect(unsafe_code, reason = "writing the slot once its bytes are decoded")]
pub unsafe fn release() {
    // SAFETY: the caller holds no slice of the slot; one thread.
    unsafe { (*DATA.0.get()).fill(0) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn generic_slot_is_empty() {
        assert_eq!(super::baked(), None);
    }
}
