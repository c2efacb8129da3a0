//! The fault suite of the workspace: what the crates promise when processes are killed
//! at random instants, when handles are created and dropped thousands of times, when
//! another process writes garbage, and under load, checked in loops that each print one
//! summary line and fail unless nothing was lost, duplicated, corrupted, hung or leaked.
//!
//! The unit tests of each crate check each promise once; this suite checks them
//! many times, at random points, because the bugs it is after (a lock word left in a
//! state no test thought of, a descriptor kept by one path out of a hundred) show up
//! only that way. Its loops are the integration tests of this crate, so
//! `cargo test --workspace` (and CI) runs them; this library holds what they share.
//!
//! # The loops
//!
//! - **kill -9** (`tests/kill9_queue.rs`, `tests/kill9_locks.rs`,
//!   `tests/kill9_processes.rs`): producers and consumers of a `Queue` and a
//!   `JoinableQueue` killed at random instants, then every completed put must be
//!   delivered exactly once (the one message a consumer killed inside `get` may take
//!   with it excepted) and the queue must still work; holders and waiters of every
//!   mp-sync type shared between processes (`Lock`, `RLock`, `Mutex`, `Condition`,
//!   `Semaphore`, `Event`, `Barrier`) killed, then the next acquirer must get the lock
//!   within a bound and be told the owner died, and no waiter may stay wedged; `Pool`
//!   workers killed mid-task, then the pool must still run tasks; forkserver children
//!   and the forkserver itself killed, then it must still start children.
//! - **SIGSTOP** (`tests/sigstop.rs`): a producer, consumer or holder of a `Queue` and of
//!   a `Lock` stopped in the middle of its work, then continued; a stopped process is
//!   alive, so nothing may be taken from it as from a dead one, and once it runs again
//!   nothing may be lost, duplicated or left wedged.
//! - **churn** (`tests/churn.rs`): every handle type, and a process under every start
//!   method, created, used and dropped many times; descriptors, zombies, `/dev/shm`
//!   entries and resident memory are compared before and after ([`Resources`]).
//! - **fuzz** (`tests/fuzz.rs`): every decoder that reads bytes from another process
//!   ([`decode_targets`]: `Connection` frames, a queue's shared ring, the handle
//!   transfer format, a spawned child's boot message) fed a fixed number of seeded
//!   random and mutated-valid inputs ([`Inputs`]). The same functions are the libFuzzer
//!   targets of the repository's `fuzz/` folder, which nightly users run with
//!   `cargo fuzz run TARGET` from that folder.
//! - **load** (`tests/load.rs`): 8 producer and 8 consumer processes on one `Queue` and
//!   on one `JoinableQueue`, every message counted by id.
//!
//! Each loop prints a line such as
//! `fault-suite | queue-kill9 | tries 500 | lost 0 | duplicated 0 | corrupted 0 | hung 0 | leaked 0 | slowest recovery 3.1 ms`
//! ([`Tally`]) and asserts the zeroes. Every wait in a loop has a bound (a wait that
//! overstays counts as hung), every child is reaped, and nothing is left behind.
//!
//! # Running longer, replaying a failure
//!
//! `MP_FAULTS_SCALE=10 cargo test --release -p mp-faults -- --nocapture` runs every loop
//! ten times as long (the factor may be fractional). Each loop prints its seed first;
//! `MP_FAULTS_SEED=<seed> cargo test -p mp-faults --test <file> <loop> -- --nocapture`
//! replays its random choices (kill instants depend on scheduling too, so a kill loop's
//! replay repeats the plan, not always the outcome; a fuzz loop's replay is exact).
//!
//! ```
//! let mut tally = mp_faults::Tally::new("example");
//! tally.tries = 1;
//! assert!(tally.is_clean());
//! ```

pub mod decode_targets;
mod inputs;
mod resources;
mod seed;
mod tally;

pub use decode_targets::Target;
pub use inputs::Inputs;
pub use resources::{Resources, exclusive};
pub use seed::{Rng, SCALE_VAR, SEED_VAR, scaled};
pub use tally::Tally;
