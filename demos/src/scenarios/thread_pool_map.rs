//! 002, the thread pool: `with ThreadPoolExecutor(max_workers=4) as executor:
//! results = list(executor.map(square, [1, 2, 3, 4, 5]))`, then `print(results)`.
//!
//! Here the pool is a [`ThreadPool`] of mp-threads; the `with` block's end is
//! `shutdown(wait = true)`. The results must be `[1, 4, 9, 16, 25]`, in the items' order
//! whichever worker finished first, and no more than four workers may have run.

use mp::threads::ThreadPool;

use super::support::JOIN_LIMIT;
use crate::{Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// The pool's max_workers (the original: 4).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,
    /// Map over 1..=N (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    items: u64,
}

fn square(n: u64) -> u64 {
    n * n
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let max_workers = args.workers as usize;

    let executor = ThreadPool::new(max_workers)?;
    let results = executor
        .map_timeout(square, 1..=args.items, JOIN_LIMIT)?
        .collect::<Result<Vec<u64>, _>>();
    let workers_used = executor.worker_count();
    // The end of the `with` block: every worker finished and exited.
    executor.shutdown(true, false);
    let results = results?;
    println!("{results:?}");
    println!("(on {workers_used} worker thread(s) of at most {max_workers})");

    check_eq(
        format_args!("map(square, 1..={})", args.items),
        results,
        (1..=args.items).map(square).collect(),
    )?;
    check(
        (1..=max_workers).contains(&workers_used),
        format_args!("the pool runs 1 to {max_workers} workers (it ran {workers_used})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_squares_come_back_in_order() {
        run(&Context::new("thread-pool-map", vec![])).unwrap();
        run(&Context::new(
            "thread-pool-map",
            vec!["--workers=2".into(), "--items=1000".into()],
        ))
        .unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("thread-pool-map", run, &[&["--workers=0"], &["--items=0"]]);
    }
}
