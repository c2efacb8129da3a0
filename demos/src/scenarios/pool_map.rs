//! 002, the process pool: `with Pool(4) as p: results = p.map(square, [1, 2, 3, 4, 5])`,
//! then `print(results)`.
//!
//! Here the pool is mp-processes' [`Pool`](mp::processes::Pool): four worker processes,
//! `map` sends them the items and gives back the squares in the items' order, whichever
//! worker finished first. The end of the `with` block is `close` then `join` (dropping
//! the pool would terminate it, as leaving Python's `with` block does). The results must
//! be `[1, 4, 9, 16, 25]`, and each square must have been computed in a worker, not in
//! this process.

use std::collections::HashSet;

use super::pool_support::{close_and_join, start_pool};
use crate::{Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// The pool's worker processes (the original: 4).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
    /// Map over 1..=N (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    items: u64,
}

/// The original's `square`.
fn square(n: u64) -> u64 {
    n * n
}

/// `square`, telling which process computed it.
fn square_where(n: u64) -> (u64, u32) {
    (square(n), std::process::id())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let pool = start_pool(args.processes as usize)?;
    let workers: HashSet<u32> = pool.worker_pids().into_iter().collect();
    let computed = pool.map(square_where, 1..=args.items)?;
    // The end of the `with` block: the workers finish and exit.
    close_and_join(&pool)?;

    let (results, pids): (Vec<u64>, HashSet<u32>) = computed.into_iter().unzip();
    println!("{results:?}");
    println!(
        "(computed by {} of the pool's {} worker processes, pids {:?}; this process is {})",
        pids.len(),
        workers.len(),
        sorted(&pids),
        std::process::id()
    );
    check_eq(
        format_args!("map(square, 1..={})", args.items),
        results,
        (1..=args.items).map(square).collect(),
    )?;
    check_computed_by_workers(&pids, &workers)
}

/// Every square came from one of the pool's workers, none from this process.
fn check_computed_by_workers(pids: &HashSet<u32>, workers: &HashSet<u32>) -> Result<(), DemoError> {
    let parent = std::process::id();
    check(
        !pids.contains(&parent) && pids.is_subset(workers),
        format_args!(
            "the squares are computed by the pool's workers {:?} (they came from {:?}; this process is {parent})",
            sorted(workers),
            sorted(pids)
        ),
    )
}

fn sorted(pids: &HashSet<u32>) -> Vec<u32> {
    let mut pids: Vec<u32> = pids.iter().copied().collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_squares_come_back_in_order() {
        run(&Context::new("pool-map", vec![])).unwrap();
        run(&Context::new(
            "pool-map",
            vec!["--processes=2".into(), "--items=1000".into()],
        ))
        .unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("pool-map", run, &[&["--processes=0"], &["--items=0"]]);
    }

    #[test]
    fn a_square_from_outside_the_pool_fails_the_check() {
        let workers: HashSet<u32> = [10, 11].into();
        assert!(check_computed_by_workers(&[10].into(), &workers).is_ok());
        assert!(check_computed_by_workers(&[10, 12].into(), &workers).is_err());
        let parent: HashSet<u32> = [std::process::id()].into();
        assert!(check_computed_by_workers(&parent, &parent).is_err());
    }
}
