//! The bounded stable run of every decode target: a fixed number of seeded random and
//! mutated-valid inputs each. A panic counts as corrupted, an input that takes longer
//! than the watchdog's bound aborts the run (printing the seed, so it replays), and
//! resident memory growing out of proportion counts as leaked.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use mp_faults::{Inputs, Resources, Rng, Tally, Target, exclusive, scaled};

/// Inputs per target in one run (times `MP_FAULTS_SCALE`).
const INPUTS: u64 = 1500;
/// No single input may take longer than this.
const INPUT_BOUND: Duration = Duration::from_secs(20);
/// Resident memory a run may grow by (allocator caches, lazily built statics).
const MEMORY_SLACK_KIB: u64 = 64 * 1024;

fn fuzz(target: Target) {
    let _only_me = exclusive();
    let name = format!("fuzz-{}", target.name());
    let rng = Rng::for_loop(&name);
    let seed = rng.seed();
    let mut inputs = Inputs::new(rng, target.valid_samples());
    let mut tally = Tally::new(&name);
    // A watchdog: an input that hangs ends the run loudly instead of hanging it.
    let progress = Arc::new(AtomicU64::new(0));
    let (done, finished) = mpsc::channel::<()>();
    let watched = Arc::clone(&progress);
    let watchdog = std::thread::spawn(move || {
        let mut last = u64::MAX;
        loop {
            match finished.recv_timeout(INPUT_BOUND) {
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = watched.load(Ordering::SeqCst);
                    if now == last {
                        eprintln!(
                            "fault-suite | {} | input {now} hung (seed {seed})",
                            target.name()
                        );
                        std::process::abort();
                    }
                    last = now;
                }
                _ => return,
            }
        }
    });
    let before = Resources::now();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for index in 0..scaled(INPUTS) {
        progress.store(index, Ordering::SeqCst);
        let input = inputs.next_input();
        let started = Instant::now();
        if catch_unwind(AssertUnwindSafe(|| target.run(&input))).is_err() {
            tally.corrupted += 1;
            if tally.corrupted == 1 {
                eprintln!("fault-suite | {name} | panicked on input {index}: {input:02x?}");
            }
        }
        tally.recovered_in(started.elapsed());
        tally.tries += 1;
    }
    std::panic::set_hook(quiet);
    let _ = done.send(());
    let _ = watchdog.join();
    tally.leaked = before.leaked_by(&Resources::now(), MEMORY_SLACK_KIB);
    tally.report();
}

#[test]
fn fuzz_connection_frames() {
    fuzz(Target::ConnectionFrames);
}

#[test]
fn fuzz_queue_records() {
    fuzz(Target::QueueRecords);
}

#[test]
fn fuzz_transfer_format() {
    fuzz(Target::TransferFormat);
}

#[test]
fn fuzz_boot_message() {
    fuzz(Target::BootMessage);
}
