//! A small set of indices: a bit mask for the usual few (no allocation), a vector past 64.
//! Used where the hot path tracks states or dependencies per call (glob matching, variables).

/// A set of indices below the length it was made for.
pub(crate) enum Bits {
    Few(u64),
    Many(Vec<bool>),
}

impl Bits {
    /// An empty set for indices below `len`.
    pub(crate) fn new(len: usize) -> Self {
        if len <= 64 {
            Bits::Few(0)
        } else {
            Bits::Many(vec![false; len])
        }
    }

    /// Adds `i` (an index past the length is ignored).
    pub(crate) fn set(&mut self, i: usize) {
        match self {
            Bits::Few(bits) => *bits |= 1u64.checked_shl(u32::try_from(i).unwrap_or(u32::MAX)).unwrap_or(0),
            Bits::Many(v) => {
                if let Some(b) = v.get_mut(i) {
                    *b = true;
                }
            }
        }
    }

    /// Whether `i` is in the set.
    pub(crate) fn get(&self, i: usize) -> bool {
        match self {
            Bits::Few(bits) => bits.checked_shr(u32::try_from(i).unwrap_or(u32::MAX)).is_some_and(|b| b & 1 == 1),
            Bits::Many(v) => v.get(i) == Some(&true),
        }
    }

    /// Empties the set.
    pub(crate) fn clear(&mut self) {
        match self {
            Bits::Few(bits) => *bits = 0,
            Bits::Many(v) => v.iter_mut().for_each(|b| *b = false),
        }
    }

    /// Whether the set has any index.
    pub(crate) fn any(&self) -> bool {
        match self {
            Bits::Few(bits) => *bits != 0,
            Bits::Many(v) => v.contains(&true),
        }
    }
}
