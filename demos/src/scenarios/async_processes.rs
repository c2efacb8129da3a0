//! Beyond the texts, mp's own async bridges: one `tokio::join!` awaits a child process's
//! end (`ProcessHandle::join_async`, woken through the child's pidfd), a process pool's
//! result and a thread pool's future (both plain `.await`), while the event loop's one
//! thread stays free: a ticker task on the same loop keeps ticking meanwhile.
//!
//! Python needs `loop.run_in_executor` for each (a thread parked per wait); here no
//! thread waits on the loop's behalf: mp-sys's reactor, the pool's supervisor and the
//! thread pool's worker wake the awaiting tasks.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use mp::processes::{Pool, Process};
use mp::threads::ThreadPool;

use super::async_support::asyncio_run;
use crate::{Context, DemoError, NoArgs, check, check_eq, scaled};

/// Sleeps (scaled by the parent, passed in) and returns its argument doubled.
fn nap_and_double(nap: Duration, n: u64) -> u64 {
    std::thread::sleep(nap);
    n * 2
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let _: NoArgs = ctx.parse_args()?;
    let nap = scaled(0.3);
    let pool = Pool::new(1)?;
    let threads = ThreadPool::new(1)?;

    let started = Instant::now();
    let (child, from_pool, from_threads, ticks) = asyncio_run(async {
        let child = Process::new(nap_and_double, (nap, 1))
            .start()?;
        let from_pool = pool
            .apply_async(nap_and_double, (nap, 2))?;
        let from_threads = threads
            .submit(nap_and_double, (nap, 3))?;
        let done = std::cell::Cell::new(false);
        let work = async {
            let outcomes = tokio::join!(
                async { child.join_async().await },
                from_pool.into_future(),
                from_threads.into_future()
            );
            done.set(true);
            outcomes
        };
        // Ticks as long as the three are awaited: it can only tick if no await blocks
        // the loop's one thread.
        let ticker = async {
            let mut ticks = 0u32;
            let mut interval = tokio::time::interval((nap / 10).max(Duration::from_micros(100)));
            while !done.get() {
                interval.tick().await;
                ticks += 1;
            }
            ticks
        };
        let ((child, from_pool, from_threads), ticks) = tokio::join!(work, ticker);
        Ok::<_, DemoError>((child, from_pool, from_threads, ticks))
    })??;
    let took = started.elapsed();
    println!("child process: {child:?}; process pool: {from_pool:?}; thread pool: {from_threads:?}");
    println!("the loop's ticker ticked {ticks} times meanwhile; all three took {took:.1?} together");

    check_eq(
        "the child's value, the pool's, the thread pool's",
        (
            child?,
            from_pool?,
            from_threads?,
        ),
        (2, 4, 6),
    )?;
    check(
        ticks >= 2,
        "the event loop's thread stayed free while the three were awaited (its ticker ticked)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_kinds_of_work_awaited_in_one_join() {
        run(&Context::new("async-processes", vec![])).unwrap();
    }
}
