//! 002, the pool's other ways to hand out work, which the text names beside `map`:
//! `apply` (one call, waiting for its value) and `starmap` (a call per argument tuple,
//! the values in order).
//!
//! `pool.apply(power, (2, 10))` is Python's `p.apply(power, (2, 10))`;
//! `pool.starmap(power, [(2, 0), (2, 1), ...])` is Python's `p.starmap(power, pairs)`,
//! the tuple unpacked into the function's arguments. Each value is checked, and so is
//! where it was computed: in the pool's workers, not in this process.

use std::collections::HashSet;

use super::pool_support::{close_and_join, start_pool};
use crate::{Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// The pool's worker processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
    /// `starmap` over (2, 0), (2, 1), ... (2, N-1).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=63))]
    pairs: u32,
}

/// `base` to the power `exponent`, and the process that computed it.
fn power(base: u64, exponent: u32) -> (u64, u32) {
    (base.pow(exponent), std::process::id())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let pool = start_pool(args.processes as usize)?;
    let workers: HashSet<u32> = pool.worker_pids().into_iter().collect();

    let (applied, applied_by) = pool.apply(power, (2, 10))?;
    println!("apply(power, (2, 10)) = {applied}");

    let pairs: Vec<(u64, u32)> = (0..args.pairs).map(|exponent| (2, exponent)).collect();
    let starred = pool.starmap(power, pairs.clone())?;
    let (values, computed_by): (Vec<u64>, HashSet<u32>) = starred.into_iter().unzip();
    println!("starmap(power, {pairs:?}) = {values:?}");
    close_and_join(&pool)?;

    check_eq("apply(power, (2, 10))", applied, 1024)?;
    check_eq(
        format_args!("starmap(power, (2, 0)..(2, {}))", args.pairs),
        values,
        (0..args.pairs).map(|exponent| 2u64.pow(exponent)).collect(),
    )?;
    check(
        workers.contains(&applied_by) && computed_by.is_subset(&workers),
        format_args!(
            "every value computed by the pool's workers {workers:?} (apply: {applied_by}, starmap: {computed_by:?}), none by this process ({})",
            std::process::id()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn apply_and_starmap_give_each_value_in_order() {
        run(&Context::new("pool-apply-starmap", vec![])).unwrap();
        run(&Context::new("pool-apply-starmap", vec!["--pairs".into(), "0".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors(
            "pool-apply-starmap",
            run,
            &[&["--pairs", "64"], &["--processes", "0"]],
        );
    }
}
