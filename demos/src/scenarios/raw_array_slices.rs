//! Beyond the texts, Python's `RawArray` (shared memory without a lock): several
//! processes fill disjoint slices of one array at the same time, with no lock between
//! them, and the parent reads the whole.
//!
//! An `Array` has one lock for all of it, so processes writing their own parts would
//! take turns; a `RawArray` has none, and the user keeps the writers apart. Here the
//! keeping apart is done by the type: `split` hands out one `RawSlice` per process, each
//! of which can only write its own range. Each child writes `i + 1` at every index `i`
//! of its slice and returns the sum it wrote; the parent checks the array holds
//! 1..=len and that the parts add up.

use mp::processes::Process;
use mp::shared_mem::{RawArray, RawSlice};

use super::process_support::{CHILD_LIMIT, Children, from_child};
use crate::{ChildResult, Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Elements of the shared array.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    len: u64,
    /// Processes, each filling its own slice.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
}

/// A child's work: `i + 1` at every index of its slice; the sum it wrote.
fn fill(mut part: RawSlice<u64>) -> ChildResult<(u64, u64, u64)> {
    let start = part.start() as u64;
    let sum = part.with_mut(|elements| {
        let mut sum = 0u64;
        for (offset, element) in elements.iter_mut().enumerate() {
            *element = start + offset as u64 + 1;
            sum += *element;
        }
        sum
    });
    Ok((start, part.len() as u64, sum))
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let len = usize::try_from(args.len).map_err(DemoError::other)?;
    let array = RawArray::<u64>::zeroed(len)?;
    let parts = array.split(args.processes as usize)?;

    let mut children = Children::new();
    for part in parts {
        children.start(Process::new(fill, (part,)))?;
    }
    let mut written = Vec::new();
    for outcome in children.join_all(CHILD_LIMIT)? {
        written.push(from_child("a filling child", outcome)?);
    }
    written.sort_unstable();
    for (start, count, sum) in &written {
        println!("a child filled [{start}, {}) and wrote a sum of {sum}", start + count);
    }

    let whole = array.to_vec();
    let total: u64 = whole.iter().sum();
    println!("the parent reads {} elements, summing to {total}", whole.len());
    let covered: u64 = written.iter().map(|(_, count, _)| count).sum();
    check_eq("elements the children filled, together", covered, args.len)?;
    check_eq(
        "the parts' sums, added up",
        written.iter().map(|(_, _, sum)| sum).sum::<u64>(),
        total,
    )?;
    check_eq(
        "the array, summed (1 + 2 + ... + len)",
        total,
        args.len * (args.len + 1) / 2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_children_fill_their_slices_and_the_parent_sees_the_whole() {
        run(&Context::new("raw-array-slices", vec![])).unwrap();
        run(&Context::new(
            "raw-array-slices",
            vec!["--len".into(), "7".into(), "--processes".into(), "3".into()],
        ))
        .unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("raw-array-slices", run, &[&["--len", "0"], &["--processes", "0"]]);
    }
}
