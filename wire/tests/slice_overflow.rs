//! A slice too small for a value is reported (`Ok(None)`) without allocating: a queue's
//! put meets one at every try while its ring is full, so that path must cost no more than
//! the bytes it wrote.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use serde::Serialize;

thread_local! {
    /// Allocations made by this thread (the harness's other threads have their own).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's allocations.
struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds
// `GlobalAlloc`'s contract; the count is a const-initialised thread-local `Cell` without a
// destructor, so updating it never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract for `alloc` (a non-zero-sized layout) is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was returned by `alloc` above, which took it from `System` with
        // this same layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[derive(Serialize)]
struct Message<'a> {
    id: u64,
    payload: [u8; 16],
    label: &'a str,
    samples: &'a [f64],
}

#[test]
fn a_slice_too_small_is_reported_without_allocating() {
    let samples = [1.5, -2.0, 1e300];
    let message = Message {
        id: u64::MAX,
        payload: *b"sixteen bytes!!!",
        label: "a label",
        samples: &samples,
    };
    let mut room = [0u8; 128];
    let needed = mp_wire::encode_bytes_into_slice(&message, &mut room)
        .expect("encode")
        .expect("fits in 128 bytes");
    for size in 0..needed {
        let before = allocations();
        let outcome = mp_wire::encode_bytes_into_slice(&message, &mut room[..size]);
        let allocated = allocations() - before;
        assert!(
            matches!(outcome, Ok(None)),
            "{size} bytes of room: {outcome:?}"
        );
        assert_eq!(allocated, 0, "{size} bytes of room");
    }
}
