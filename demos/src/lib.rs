//! The scenarios of the source texts (Python tutorials on threads and processes), redone
//! with this project's crates, and the framework of the `demos` binary that runs them.
//!
//! Each scenario does what its Python original does, prints what it prints, and checks its
//! outcome: `demos <name>` runs one and exits non-zero when the outcome is wrong, and
//! `demos all` runs every one in a child process of its own and ends with a table, so the
//! binary is a self-test of the whole project.
//!
//! ```text
//! cargo run --release -p mp-demos -- list                  # every scenario: name, source, what it shows
//! cargo run --release -p mp-demos -- all                   # run them all, then a table: scenario, checked, pass/fail, time
//! cargo run --release -p mp-demos -- all --scale 0.01      # the same with every sleep of the originals 100x shorter
//! cargo run --release -p mp-demos -- lock-balance          # one scenario
//! cargo run --release -p mp-demos -- lock-balance --help   # what it shows and checks, and its own options
//! ```
//!
//! - `--scale F` (or `MP_DEMO_SCALE=F`) multiplies every sleep of the originals; work is not
//!   scaled. `--out DIR` is where scenarios write files (default `demos-output/`, one folder
//!   per scenario).
//! - `demos all` runs each scenario as a child process of its own (the same binary, the same
//!   scale), in its own process group ([`Isolated`]). A scenario still running after its
//!   time limit (120 s unless it sets one; `--time-limit SECS` overrides) is killed with its
//!   group and fails; so does one that leaves a process running after it ends.
//!   `demos all NAME...` runs only those, `-q` prints only the table. The exit status is
//!   non-zero if any scenario failed. A scenario that cannot run here (`cluster-pool`
//!   without `redis-server`) says why and exits with [`SKIPPED_STATUS`]: the table shows
//!   it as skipped, which is not a failure.
//! - `RUST_LOG=debug` logs to stderr when each scenario child starts, ends or is killed,
//!   with the debug events of the crates it uses.
//!
//! # The scenarios
//!
//! The sources are the tutorials' numbers (`000` to `004`, with their sections);
//! "beyond" marks what Python cannot do and this project can. `tests/scenario_table.rs`
//! checks that this table lists every scenario of the registry, in its order.
//!
//! | scenario | source | what it shows | checked |
//! |---|---|---|---|
//! | `threads-basic` | 000 §1 | 5 threads, each sleeps 1 s | 5 starts, 5 ends, the sleeps overlap (wall ~1 s, not ~5 s) |
//! | `processes-basic` | 000 §2 | 5 processes, each sleeps 1 s (timed by each child on the monotonic clock, after a barrier in shared memory) | 5 distinct pids, none the parent's, the sleeps overlap (wall ~1 s, not ~5 s) |
//! | `crawler-threads` | 000 §4.1 | threads fetch pages from a local HTTP server on 127.0.0.1 that delays each reply (`ureq`; real URLs may be passed) | every body as served, the fetches overlap |
//! | `image-processes` | 000 §4.2 | one process per image: read, grayscale and blur, write (the `image` crate; generated JPEG inputs, or given paths; PNG results) | every result decodes and equals the same processing done in the parent |
//! | `thread-child-main` | 001 ch.3 | a child thread prints while the main thread works, then join | both sequences complete and interleaved |
//! | `lock-counter-threads` | 001 ch.3 | 2 threads x 100000 increments of a shared counter under a `Lock` (acquire/release, as the original) | the counter is exactly 200000 |
//! | `process-worker-pid` | 002 | 5 processes print `Worker N is running in process PID` | 5 distinct pids, none the parent's, each the one its handle reports |
//! | `shared-value-array` | 002 | 5 processes add their number into a shared `Value` and every element of an `Array`, each `+=` under one hold of the lock (the original's `v.value += n` can lose an addition) | `10` and `[11, 12, 13, 14, 15]`, every run (`--rounds N`) |
//! | `threads-worker` | 002 | 5 threads print their number | 0..4 each printed once, returned by `join` |
//! | `thread-pool-map` | 002 | `ThreadPool::new(4)` maps `square` over 1..=5 | `[1, 4, 9, 16, 25]` |
//! | `lock-counter-1000-threads` | 002 | 1000 threads each increment once under a lock | the counter is exactly 1000 |
//! | `queue-threads` | 002 | producer and consumer threads over a `Queue`; the original's `while not q.empty()` race is shown too | 0..4 consumed in order, the consumer ends by `shutdown`, not by polling `empty()` |
//! | `thread-subclass` | 002 | a type implementing `Run`, started as a thread (the original's `threading.Thread(self)` raises) | 5 "Thread N is running" lines |
//! | `async-gather` | 002 | 5 tokio tasks on a one-thread runtime, each sleeps 1 s, gathered | every worker starts before any ends, all on the event loop's thread, the sleeps overlap |
//! | `async-fetch` | 002 | 3 pages fetched by tasks of one thread with `reqwest` from the local slow server of `crawler-threads` (or given `http://` URLs) | every body as served, the fetches overlap |
//! | `async-queue` | 002 | producer and consumer tasks over mp-ipc's `JoinableQueue`, awaited with `get_async` and `join_async`: `task_done`, `join`, then the consumer is cancelled (`abort`) | 0..4 consumed in order, `join` returns after the last `task_done`, the consumer ended cancelled |
//! | `async-semaphore` | 002 | 5 workers behind a `tokio::sync::Semaphore` of 2 permits | the peak count of workers inside, measured with an atomic, is exactly 2 |
//! | `async-hello` | 002 | `main` awaits `say_hello`, which sleeps 1 s, then prints `Hello` | `Hello`, once, after the whole sleep |
//! | `process-print-numbers` | 003 | a process prints 0..4 | the child printed and returned 0..4 |
//! | `process-count-race` | 003 | a plain global is not shared between processes; an unlocked read-then-write of a shared counter by 2 processes x 1000000 loses updates (printed, not checked: likely, not certain); the same under a shared `Lock` (acquire/release) does not | the parent's plain count is 0; the locked count is exactly 0 with every update counted |
//! | `event-processes` | 003 | one process waits on an `Event` in shared memory, another sets it after 2 s | the wait ended by the set, not its timeout, and not before the set (monotonic clock read in both children) |
//! | `download-processes` | 003 | one process per image URL downloads it with `ureq` and saves it, from a local server on 127.0.0.1 serving generated JPEGs (or given URLs) | every file saved, decodes, and holds the bytes served |
//! | `process-parent-child-pid` | 004 2.1 | parent and child pids, under fork, spawn and forkserver | the child's `parent_process()` is the parent (and `getppid()` too, except under forkserver, where it is the server) |
//! | `thread-named` | 004 3.1 | a thread named `LoopThread` | names `MainThread` and `LoopThread` printed |
//! | `lock-balance` | 004 3.2 | `balance += n; balance -= n` under a lock (`Mutex<i64>`), 2 threads x 100000 times; then the same without the lock, to show what it prevents (printed, not checked) | the balance ends at 0 |
//! | `thread-local` | 004 3.4 | a `Local<String>` holding each thread's student | "Hello, A (in Thread-A)" and "Hello, B (in Thread-B)" |
//! | `lock-owner-death` | beyond | a child holding a shared `Lock` is killed with `SIGKILL` (Python would hang every later `acquire()`) | a second process gets the lock, told that the owner died; the mark stays until `clear_poison` |
//! | `thread-vs-process-crash` | 004 1.2 | a child process whose worker thread segfaults (the whole child dies, its main thread's value never comes); then two sibling processes, one of which segfaults | the first child died by `SIGSEGV`; the crashing sibling died alone, the other returned 42; the parent goes on |
//! | `pool-map` | 002 | `Pool::new(4)?` maps `square` over 1..=5 in worker processes, then `close` and `join` | `[1, 4, 9, 16, 25]`, computed by the pool's workers, none by the parent |
//! | `pool-apply-starmap` | 002 | `Pool(4)`: `apply(power, (2, 10))`, then `starmap(power, [(2, 0), (2, 1), ...])`, the two other ways the text names | 1024, then each power of two in order, every value computed by the pool's workers |
//! | `pool-apply-async` | 004 2.2 | `Pool(4)`, 5 `apply_async` tasks with random sleeps (drawn in the parent, sent scaled), close, join | all 5 ran, each its full sleep, on at most 4 pids, all the pool's workers |
//! | `pool-worker-crash` | beyond | one of 8 `apply_async` tasks kills its worker (`SIGKILL`, or `abort()` with `--signal abort`); Python's `Pool` would wait for it for ever | that task fails with `Signaled` naming the signal, the 7 others have their squares, then the same pool maps again correctly with a full set of workers |
//! | `pool-progress` | beyond | `imap` over 1000 tasks wrapped in an `indicatif` progress bar (drawn only when stdout is a terminal) | every result right and in order; the bar reached 1000 |
//! | `gil-free-cpu` | 004 3.3, 001 ch.1-2 | CPU-bound jobs (about 0.5 s each at scale 1) one after another, on a `ThreadPool`, on a `Pool`: wall times, speed-ups, CPUs kept busy | the same results every way; the jobs overlapped on threads and on processes (speed-ups are reported, not checked: they depend on the machine's load) |
//! | `threads-vs-processes` | 001 ch.2, 000 §3 | I/O-bound (sleeps) and CPU-bound jobs on each way, and the start-up of each pool; prints the advice the table supports | the same results every way; the jobs of each kind overlapped on threads and on processes |
//! | `pipe-processes` | 002 | a parent and a child process hold the two ends of a duplex `Pipe`: `ping i` one way, `pong i` back, then the parent closes its end | every answer, in order; the child saw the end of the stream (Python's `EOFError`) |
//! | `raw-array-slices` | beyond | a `RawArray` (shared memory, no lock) split into one `RawSlice` per process; 4 processes fill their slices at once; the parent reads the whole | the array holds 1..=len, and the children's sums add up to it |
//! | `manager-dict` | beyond | a `Manager` (mp-managers) serves a dict and a list; 4 processes add 1 to a counter 200 times each, as Python writes it (`d[k] = d[k] + 1`: a read, then a write) and with `update` (one step on the server), and append their pids | no `update` lost; the list holds every child's pid; the read-then-write count is printed, with the additions it lost |
//! | `queue-processes` | 002 | a producer process puts 0..4 on an mp-ipc `Queue` and is joined, then a consumer process takes what is there (the original's `while not q.empty()`, which Python's feeder thread makes racy) | 0..4 consumed in order, nothing left |
//! | `queue-sentinel` | 003 | producer and consumer processes on a `Queue<Option<u32>>`; the parent's `None` ends the consumer | 0..4 consumed, then the consumer exits with code 0 |
//! | `queue-writer-reader` | 004 2.3 | a writer process puts A, B, C with random pauses; the endless reader is terminated once it reported all three (the original's terminate races with its last `get`) | the reader got A, B, C; `join` says SIGTERM and the exit code is -15 |
//! | `async-processes` | beyond | one `tokio::join!` awaits a child process (`join_async`), a `Pool` result and a `ThreadPool` future (plain `.await`), while a ticker task runs on the same one-thread loop | the three values 2, 4, 6; the ticker ticked meanwhile, so no await blocked the loop |
//! | `async-process-pool` | beyond | a one-thread tokio loop serves HTTP/1.0 on 127.0.0.1 while awaiting 100 CPU-bound `apply_async` tasks on a `Pool`; a client task times requests with the pool idle, then busy | every result recomputed and equal; every request answered; the median latency under load below 20x the idle median (at least 50 ms) |
//! | `cluster-pool` | beyond | `multiprocessing.Pool` across machines (mp-cluster, as `ray.util.multiprocessing.Pool`): 3 worker processes, this binary started again with `MP_CLUSTER_WORKER`, stand in for machines; `imap_unordered` over 10000 CPU-bound items (a progress bar on a terminal) on the Redis of `MP_REDIS_URL` or a `redis-server` of its own; the busiest worker is killed with `SIGKILL` half-way | every item's result came exactly once, equal to the same hash computed in the parent, each from one of the workers (counts per worker printed); a server of its own holds no key at the end; skipped, with how to install it, where `redis-server` is missing |
//!
//! # Writing one
//!
//! What a scenario body uses, next to what the Python original wrote:
//!
//! | Python | mp-demos |
//! |---|---|
//! | `time.sleep(s)` | [`sleep_scaled(s)`](sleep_scaled) (`s` times the `--scale` factor) |
//! | a timeout that follows the sleeps: `q.get(timeout=2)` | `q.get_timeout(`[`scaled(2.0)`](scaled)`)` |
//! | `start = time.time()` ... `time.time() - start` | [`Stopwatch::start()`](Stopwatch::start) ... [`elapsed_secs()`](Stopwatch::elapsed_secs) |
//! | `t.join()` | [`join_thread(t, limit)?`](join_thread) (bounded, a panic becomes an error) |
//! | `assert counter == 200000` | [`check_eq("counter", counter, 200_000)?`](check_eq) |
//! | `assert ok, "why"` | [`check(ok, "why")?`](check) |
//! | `sys.argv` / `argparse` | [`ctx.parse_args::<Args>()?`](Context::parse_args) (a `clap` type) |
//! | an exception raised by the library | `?` (every error of `mp` converts into [`DemoError`]) |
//! | an exception raised in a child process | `?` in a target returning [`ChildResult`]; the parent's `from_child` names the child |
//! | `if __name__ == '__main__':` | one line in the registry, [`scenarios`] |
//!
//! Adding a scenario is one file, `demos/src/scenarios/<name>.rs`, one line in the
//! registry and one row in the table above: see [`scenarios`] for the rules and the helpers.
//!
//! ```
//! use mp_demos::{Context, scenarios};
//!
//! mp_demos::set_scale(0.0);
//! let counter = scenarios::find("lock-counter-threads").unwrap();
//! let ctx = Context::new(counter.name, vec!["--increments=1000".into()]);
//! (counter.run)(&ctx).unwrap(); // prints "Final counter value: 2000"
//! ```

mod check;
mod child_failure;
mod context;
mod error;
mod isolated;
mod join;
mod report;
mod scale;
mod scenario;
pub mod scenarios;
mod stopwatch;

pub use check::{check, check_eq};
pub use child_failure::{ChildFailure, ChildResult};
pub use context::{Context, DEFAULT_OUTPUT_ROOT, NoArgs};
pub use error::{DemoError, StepContext};
pub use isolated::{ChildEnd, ChildReport, Isolated, SKIPPED_STATUS};
pub use join::join_thread;
pub use report::{Outcome, render_table};
pub use scale::{SCALE_ENV, parse_scale, scale, scaled, set_scale, sleep_scaled};
pub use scenario::{RunFn, Scenario};
pub use stopwatch::{Stopwatch, format_duration};

/// The examples of the repository's `README.md`, run as doc-tests of this crate (which
/// depends on every crate they use), so that the front page stays true to the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
