//! The bundle slot: a fixed-size region of the component's data that `authz bake`
//! overwrites with a serialized bundle. The component's size never changes, so
//! baking is a byte patch that needs no compiler, linker or wasm tooling.

/// Marks the slot in the component's bytes.
pub const MAGIC: [u8; 16] = *b"authz:bundle-v1\0";
/// Bytes available for a serialized bundle.
pub const CAPACITY: usize = 256 * 1024;
/// Filler of an empty slot (non-zero, so the slot is stored in the data segment).
const FILL: u8 = 0xA5;

/// The slot's layout in memory and in the component's data segment.
#[repr(C)]
pub struct Slot {
    magic: [u8; 16],
    capacity: [u8; 4],
    len: [u8; 4],
    data: [u8; CAPACITY],
}

/// The slot itself; empty (length 0) in a generic component.
pub static SLOT: Slot =
    Slot { magic: MAGIC, capacity: (CAPACITY as u32).to_le_bytes(), len: [0; 4], data: [FILL; CAPACITY] };

/// The baked bundle bytes, if any.
pub fn baked() -> Option<&'static [u8]> {
    // `black_box` keeps the compiler from folding the generic (empty) slot's contents.
    let slot: &'static Slot = std::hint::black_box(&SLOT);
    let len = u32::from_le_bytes(slot.len) as usize;
    if len == 0 {
        return None;
    }
    slot.data.get(..len)
}

/// Why a component could not be baked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BakeError {
    /// The bytes hold no bundle slot, or more than one.
    NoSlot(usize),
    /// The bundle is larger than the slot.
    TooLarge {
        /// Bundle size.
        size: usize,
        /// Slot capacity.
        capacity: usize,
    },
}

impl std::fmt::Display for BakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BakeError::NoSlot(n) => write!(f, "not a generic authz component: found {n} bundle slots, expected 1"),
            BakeError::TooLarge { size, capacity } => {
                write!(f, "the bundle is {size} bytes; the component's slot holds {capacity}")
            }
        }
    }
}

impl std::error::Error for BakeError {}

/// Writes `bundle` into the slot of a generic `component`, returning the baked component.
pub fn bake(component: &[u8], bundle: &[u8]) -> Result<Vec<u8>, BakeError> {
    let hits: Vec<usize> =
        component.windows(MAGIC.len()).enumerate().filter(|(_, w)| *w == MAGIC).map(|(i, _)| i).collect();
    let [at] = hits.as_slice() else { return Err(BakeError::NoSlot(hits.len())) };
    let header = at + MAGIC.len();
    let capacity = component
        .get(header..header + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_le_bytes(b) as usize)
        .ok_or(BakeError::NoSlot(0))?;
    if bundle.len() > capacity {
        return Err(BakeError::TooLarge { size: bundle.len(), capacity });
    }
    let mut out = component.to_vec();
    let len = u32::try_from(bundle.len()).map_err(|_| BakeError::TooLarge { size: bundle.len(), capacity })?;
    let data = header + 8;
    let Some(len_field) = out.get_mut(header + 4..data) else { return Err(BakeError::NoSlot(0)) };
    len_field.copy_from_slice(&len.to_le_bytes());
    let Some(slot_data) = out.get_mut(data..data + bundle.len()) else {
        return Err(BakeError::TooLarge { size: bundle.len(), capacity });
    };
    slot_data.copy_from_slice(bundle);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic() -> Vec<u8> {
        let mut bytes = b"\0asm-prefix".to_vec();
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&[FILL; 16]);
        bytes.extend_from_slice(b"suffix");
        bytes
    }

    #[test]
    fn bake_patches_in_place() {
        let g = generic();
        let baked = bake(&g, b"hello").unwrap();
        assert_eq!(baked.len(), g.len());
        let at = g.windows(16).position(|w| w == MAGIC).unwrap() + 16;
        assert_eq!(&baked[at + 4..at + 8], &5u32.to_le_bytes());
        assert_eq!(&baked[at + 8..at + 13], b"hello");
        assert!(baked.ends_with(b"suffix"));
    }

    #[test]
    fn bake_refuses_oversized_bundles_and_foreign_bytes() {
        assert_eq!(bake(&generic(), &[1; 17]), Err(BakeError::TooLarge { size: 17, capacity: 16 }));
        assert_eq!(bake(b"no slot here", b"x"), Err(BakeError::NoSlot(0)));
        let mut twice = generic();
        twice.extend(generic());
        assert_eq!(bake(&twice, b"x"), Err(BakeError::NoSlot(2)));
    }

    #[test]
    fn generic_slot_is_empty() {
        assert_eq!(baked(), None);
    }
}
