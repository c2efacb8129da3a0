//! The scenarios of the source texts (Python tutorials on threads and processes), redone
//! with this project's crates, and the framework of the `demos` binary that runs them.
//!
//! Each scenario does what its Python original does, prints what it prints, and checks its
//! outcome: `demos <name>` runs one and exits non-zero when the outcome is wrong, and
//! `demos all` runs every one in a child process of its own and ends with a table, so the
//! binary is a self-test of the whole project. `demos list` lists them; `--scale 0.01` (or
//! `MP_DEMO_SCALE=0.01`) makes every sleep of the originals a hundred times shorter.
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
//! | `if __name__ == '__main__':` | one line in the registry, [`scenarios`] |
//!
//! Adding a scenario is one file and one line: see [`scenarios`].
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
pub use context::{Context, DEFAULT_OUTPUT_ROOT, NoArgs};
pub use error::DemoError;
pub use isolated::{ChildEnd, ChildReport, Isolated};
pub use join::join_thread;
pub use report::{Outcome, render_table};
pub use scale::{SCALE_ENV, parse_scale, scale, scaled, set_scale, sleep_scaled};
pub use scenario::{RunFn, Scenario};
pub use stopwatch::{Stopwatch, format_duration};
