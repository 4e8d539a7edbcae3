//! The guest's allocator: a bump arena for the allocations of one call, over the system
//! allocator (dlmalloc) for everything else.
//!
//! A decision allocates hundreds of small, short-lived blocks (the request's strings, the
//! attribute values conditions read, the response) and frees them all by the time the host has
//! read the response. Bumping a pointer is cheaper than dlmalloc's bins, and the arena is
//! rewound whenever its last live block is freed, which happens at the end of every call
//! (after the canonical ABI's post-return frees the response). A block that outlives its call
//! keeps the arena from rewinding, so the arena fills and later calls are served by dlmalloc:
//! slower, never wrong. Blocks over [`LARGE`] bytes, and all blocks while the arena is full or
//! not yet [`arm`]ed (the pre-initializer's decoded bundle lives for ever), come from dlmalloc.

use std::alloc::Layout;

/// Bytes of the arena (zeroed static memory: costs nothing in the binary).
pub const ARENA_BYTES: usize = 1 << 20;
/// Larger blocks always come from the system allocator.
pub const LARGE: usize = 64 << 10;

/// Bump state over a region of `len` bytes at `base` (the global allocator has one only once
/// armed).
#[derive(Debug)]
pub struct Bump {
    base: usize,
    len: usize,
    top: usize,
    live: usize,
}

impl Bump {
    /// An empty arena over `len` bytes at address `base`.
    pub const fn new(base: usize, len: usize) -> Bump {
        Bump { base, len, top: 0, live: 0 }
    }

    /// Address of a new block, or `None` when it must come from the system allocator.
    pub fn alloc(&mut self, layout: Layout) -> Option<usize> {
        if layout.size() > LARGE {
            return None;
        }
        // An alignment is a power of two: round up by masking (no division).
        let mask = layout.align() - 1;
        let start = (self.base + self.top).checked_add(mask)? & !mask;
        let end = start.checked_add(layout.size())?;
        if end > self.base + self.len {
            return None;
        }
        self.top = end - self.base;
        self.live += 1;
        Some(start)
    }

    /// Whether `addr` is an arena block.
    pub fn owns(&self, addr: usize) -> bool {
        addr >= self.base && addr < self.base + self.len
    }

    /// Frees an arena block; the arena rewinds when none is left.
    pub fn free(&mut self, addr: usize, size: usize) {
        self.live = self.live.saturating_sub(1);
        if self.live == 0 {
            self.top = 0;
        } else if addr + size == self.base + self.top {
            // The newest block: its bytes can be handed out again at once.
            self.top = addr - self.base;
        }
    }

    /// Resizes the newest arena block in place, if it is the newest and the arena has room.
    pub fn resize_in_place(&mut self, addr: usize, old_size: usize, new_size: usize) -> bool {
        let is_newest = addr + old_size == self.base + self.top;
        let fits = addr.checked_add(new_size).is_some_and(|end| end <= self.base + self.len);
        if is_newest && fits && new_size <= LARGE {
            self.top = addr + new_size - self.base;
            true
        } else {
            false
        }
    }

    /// Live blocks (for tests).
    pub fn live(&self) -> usize {
        self.live
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::arm;

#[cfg(target_arch = "wasm32")]
#[expect(unsafe_code, reason = "a global allocator is an unsafe trait over raw memory")]
mod wasm {
    use super::{Bump, ARENA_BYTES};
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::UnsafeCell;

    #[repr(align(16))]
    struct Region(UnsafeCell<[u8; ARENA_BYTES]>);

    struct CallArena {
        region: Region,
        bump: UnsafeCell<Option<Bump>>,
    }

    // SAFETY: wasm32-unknown-unknown without the atomics feature has one thread, so the
    // arena's state is never touched concurrently.
    unsafe impl Sync for CallArena {}

    #[global_allocator]
    static ARENA: CallArena =
        CallArena { region: Region(UnsafeCell::new([0; ARENA_BYTES])), bump: UnsafeCell::new(None) };

    impl CallArena {
        /// The arena once armed; `None` before, when every block comes from dlmalloc.
        #[expect(clippy::mut_from_ref, reason = "single-threaded: see the Sync impl")]
        fn bump(&self) -> Option<&mut Bump> {
            // SAFETY: one thread, and no caller holds the reference across another call.
            unsafe { (*self.bump.get()).as_mut() }
        }
    }

    /// Small blocks come from the arena from now on (the pre-initializer calls this last).
    pub fn arm() {
        // SAFETY: as in `CallArena::bump`.
        let state = unsafe { &mut *ARENA.bump.get() };
        state.get_or_insert_with(|| Bump::new(ARENA.region.0.get() as usize, ARENA_BYTES));
    }

    unsafe impl GlobalAlloc for CallArena {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            match self.bump().and_then(|b| b.alloc(layout)) {
                Some(addr) => addr as *mut u8,
                // SAFETY: the caller's layout contract is passed on.
                None => unsafe { System.alloc(layout) },
            }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            match self.bump().and_then(|b| b.alloc(layout)) {
                Some(addr) => {
                    // SAFETY: the block is `layout.size()` bytes of the arena, just handed out.
                    unsafe { std::ptr::write_bytes(addr as *mut u8, 0, layout.size()) };
                    addr as *mut u8
                }
                // SAFETY: as in `alloc`.
                None => unsafe { System.alloc_zeroed(layout) },
            }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            match self.bump() {
                Some(bump) if bump.owns(ptr as usize) => bump.free(ptr as usize, layout.size()),
                // SAFETY: blocks outside the arena came from the system allocator.
                _ => unsafe { System.dealloc(ptr, layout) },
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let Some(bump) = self.bump().filter(|b| b.owns(ptr as usize)) else {
                // SAFETY: blocks outside the arena came from the system allocator.
                return unsafe { System.realloc(ptr, layout, new_size) };
            };
            if bump.resize_in_place(ptr as usize, layout.size(), new_size) {
                return ptr;
            }
            // SAFETY: `new_size` with the old alignment is the caller's valid layout.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: as in `alloc`.
            let new = unsafe { self.alloc(new_layout) };
            if !new.is_null() {
                // SAFETY: both blocks are valid for the smaller size and do not overlap.
                unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
                // SAFETY: `ptr` is a live arena block of `layout`.
                unsafe { self.dealloc(ptr, layout) };
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap_or_else(|_| Layout::new::<u8>())
    }

    /// An arena over 1 KiB at address 4096.
    fn arena() -> Bump {
        Bump::new(4096, 1024)
    }

    #[test]
    fn blocks_are_aligned_and_rewind_when_all_are_freed() {
        let mut b = arena();
        let a = b.alloc(layout(3, 1)).unwrap_or_default();
        let c = b.alloc(layout(16, 16)).unwrap_or_default();
        assert_eq!((a, c), (4096, 4112));
        b.free(a, 3);
        assert_eq!(b.live(), 1);
        // Still live: the next block goes after it.
        assert_eq!(b.alloc(layout(1, 1)), Some(4128));
        b.free(4128, 1);
        b.free(c, 16);
        assert_eq!(b.live(), 0);
        assert_eq!(b.alloc(layout(8, 8)), Some(4096), "rewound");
        assert_eq!(b.alloc(layout(1, 256)), Some(4352), "the next multiple of 256 after 4104");
    }

    #[test]
    fn full_or_large_requests_fall_back() {
        let mut b = arena();
        assert_eq!(b.alloc(layout(1025, 1)), None);
        assert!(b.alloc(layout(1000, 1)).is_some());
        assert_eq!(b.alloc(layout(100, 1)), None);
        let mut big = Bump::new(0, 4 * LARGE);
        assert_eq!(big.alloc(layout(LARGE + 1, 1)), None);
    }

    #[test]
    fn newest_block_grows_and_frees_in_place() {
        let mut b = arena();
        let a = b.alloc(layout(10, 1)).unwrap_or_default();
        let c = b.alloc(layout(10, 1)).unwrap_or_default();
        assert!(!b.resize_in_place(a, 10, 20), "not the newest");
        assert!(b.resize_in_place(c, 10, 500));
        assert!(!b.resize_in_place(c, 500, 2000), "no room");
        b.free(c, 500);
        assert_eq!(b.alloc(layout(4, 1)), Some(c), "the newest block's bytes are reused");
        assert!(!b.owns(4096 + 1024) && b.owns(4096) && !b.owns(4095));
    }
}
