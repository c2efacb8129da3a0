//! `process-start-join-big-parent`: the single-child start of the other rows, from a
//! parent that holds 1 GiB of heap it has written to.
//!
//! A `fork` copies the parent's page tables (about 2 MiB of them per GiB of touched
//! memory, in 4 KiB pages), so its cost grows with the parent; a start by `exec`
//! (spawn, through `posix_spawn`, which shares the parent's memory until the `exec`)
//! and a start through the forkserver (whose server is a small process of its own,
//! started by `exec` before this row) do not. The heap is allocated and written for
//! each measurement, outside the clock, and freed after it, so no other row runs
//! beside it.

use std::time::Duration;

use crate::error::BenchError;

/// The heap the parent holds while it starts children.
const BIG_HEAP: usize = 1 << 30;

/// Runs `measure` while this process holds [`BIG_HEAP`] bytes of heap, every page of
/// it written (so present in the page tables a `fork` copies), and frees it after.
pub(super) fn with_big_heap(
    measure: impl FnOnce() -> Result<Duration, BenchError>,
) -> Result<Duration, BenchError> {
    // `vec![1; n]` writes every byte: a zeroed allocation would map no page at all.
    let heap = vec![1u8; BIG_HEAP];
    let outcome = measure();
    std::hint::black_box(&heap);
    drop(heap);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heap_is_present_while_the_measurement_runs() {
        let resident_during = with_big_heap(|| {
            let status = std::fs::read_to_string("/proc/self/status").expect("status");
            let kib: u64 = status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .expect("VmRSS");
            Ok(Duration::from_nanos(kib))
        })
        .expect("measure");
        assert!(resident_during.as_nanos() >= (BIG_HEAP as u128) / 1024);
    }
}
