//! What every pool contender of the rows shares, below them all: the limits of a
//! measurement, the functions the pools apply, and the check of what comes back.
//! The contenders and the row table import this; it imports none of them.

use std::ops::Range;
use std::time::Duration;

use crate::error::BenchError;

/// Longest any wait of a measurement may last: one task, one build of a pool.
pub(in crate::rows) const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// Workers of the pools of the trivial `map` and `apply_async` rows.
pub(in crate::rows) const WORKERS: usize = 2;

/// Items of one `map` call; a measurement of more items makes several calls, one
/// of fewer makes one shorter call.
pub(in crate::rows) const MAP_LEN: u64 = 100_000;

/// Items procspawn's pool holds in flight at once (each costs it two IPC channels,
/// so all 100 000 at once would exhaust descriptors).
pub(in crate::rows) const WINDOW: u64 = 64;

/// Additions of the CPU-bound function: about a millisecond of a 2020s core.
pub(in crate::rows) const CPU_STEPS: u64 = 400_000;

/// The trivial function every `map` applies.
pub(in crate::rows) fn double(n: u64) -> u64 {
    n.wrapping_mul(2)
}

/// The function of the round trip: its value checks that the argument went in.
pub(in crate::rows) fn echo(n: u64) -> u64 {
    n
}

/// Arithmetic that the compiler cannot fold (about a tenth of a millisecond on a current
/// core; the `pool-cpu-scaling` row's 1-worker line says how long here): `seed` added
/// [`CPU_STEPS`] times, each sum passed through `black_box`. Its value is
/// [`cpu_bound_value`], so checking it costs nothing.
pub(in crate::rows) fn cpu_bound(seed: u64) -> u64 {
    let mut sum = 0u64;
    for _ in 0..CPU_STEPS {
        sum = std::hint::black_box(sum.wrapping_add(seed));
    }
    sum
}

/// What [`cpu_bound`] returns, in one multiplication.
pub(in crate::rows) fn cpu_bound_value(seed: u64) -> u64 {
    seed.wrapping_mul(CPU_STEPS)
}

/// `0..total` cut into consecutive ranges of at most `size` items.
pub(in crate::rows) fn batches(total: u64, size: u64) -> impl Iterator<Item = Range<u64>> {
    let step = usize::try_from(size.max(1)).unwrap_or(usize::MAX);
    (0..total)
        .step_by(step)
        .map(move |first| first..first.saturating_add(size).min(total))
}

/// Checks that `values` are `expected` of `items`, in the items' order.
pub(in crate::rows) fn expect_mapped(
    values: &[u64],
    items: Range<u64>,
    expected: impl Fn(u64) -> u64,
    who: &str,
) -> Result<(), BenchError> {
    let count = items.end.saturating_sub(items.start);
    if values.len() as u64 != count {
        return Err(BenchError::WrongOutcome(format!(
            "{who}: {} values for {count} items",
            values.len()
        )));
    }
    match items
        .zip(values)
        .find(|&(item, &value)| value != expected(item))
    {
        Some((item, value)) => Err(BenchError::WrongOutcome(format!(
            "{who}: item {item} gave {value}, not {}",
            expected(item)
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{batches, cpu_bound, cpu_bound_value, double, expect_mapped};

    #[test]
    fn batches_cover_every_item_once_in_order() {
        for (total, size) in [(0, 10), (1, 10), (10, 10), (11, 10), (250_001, 100_000)] {
            let ranges: Vec<_> = batches(total, size).collect();
            let items: Vec<u64> = ranges.iter().cloned().flatten().collect();
            assert_eq!(items, (0..total).collect::<Vec<_>>());
            assert!(
                ranges
                    .iter()
                    .all(|r| !r.is_empty() && r.end - r.start <= size)
            );
        }
    }

    #[test]
    fn wrong_values_are_caught() {
        let good: Vec<u64> = (5..9).map(double).collect();
        assert!(expect_mapped(&good, 5..9, double, "test").is_ok());
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert!(expect_mapped(&swapped, 5..9, double, "test").is_err());
        assert!(expect_mapped(&good[..3], 5..9, double, "test").is_err());
    }

    #[test]
    fn the_cpu_bound_function_has_its_closed_form() {
        for seed in [0, 3, u64::MAX] {
            assert_eq!(cpu_bound(seed), cpu_bound_value(seed));
        }
    }
}
