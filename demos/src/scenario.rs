//! One scenario: a Python original redone in Rust, with what it shows and what it checks.

use std::time::Duration;

use crate::{Context, DemoError};

/// A scenario's body: runs it, prints what the original prints, and returns an error when
/// the outcome is wrong.
///
/// ```
/// use mp_demos::{check_eq, Context, DemoError, RunFn};
///
/// fn run(_ctx: &Context) -> Result<(), DemoError> {
///     let squares: Vec<u32> = (1..=5).map(|x| x * x).collect();
///     println!("{squares:?}");
///     check_eq("squares", squares, vec![1, 4, 9, 16, 25])
/// }
/// let body: RunFn = run;
/// assert!(body(&Context::new("squares", vec![])).is_ok());
/// ```
pub type RunFn = fn(&Context) -> Result<(), DemoError>;

/// A scenario of the registry ([`crate::scenarios::SCENARIOS`]).
///
/// ```
/// use mp_demos::{Context, DemoError, Scenario};
///
/// fn run(_ctx: &Context) -> Result<(), DemoError> {
///     Ok(())
/// }
/// const HELLO: Scenario = Scenario::new("hello", "000 §0", "says hello", "nothing", run);
/// assert_eq!(HELLO.time_limit, Scenario::DEFAULT_TIME_LIMIT);
/// assert!((HELLO.run)(&Context::new(HELLO.name, vec![])).is_ok());
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Scenario {
    /// The name on the command line: `demos <name>`.
    pub name: &'static str,
    /// Where the original is: the source text's number and its section, such as `004 3.2`,
    /// or `beyond` for a scenario that goes past the texts.
    pub source: &'static str,
    /// What it shows, in a few words.
    pub shows: &'static str,
    /// What it checks: the outcome that makes it pass.
    pub checks: &'static str,
    /// Its body.
    pub run: RunFn,
    /// How long `demos all` lets it run before killing it and counting it failed.
    pub time_limit: Duration,
    /// The reason it gives when it cannot run here (a program it needs is missing), for a
    /// scenario that may be skipped; `None` for one that always runs.
    pub skips_with: Option<&'static str>,
}

impl Scenario {
    /// The time limit of a scenario that does not set its own: far above what any scenario
    /// needs at scale 1, so that it only catches hangs.
    ///
    /// ```
    /// assert_eq!(mp_demos::Scenario::DEFAULT_TIME_LIMIT.as_secs(), 120);
    /// ```
    pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(120);

    /// A scenario with the default time limit.
    ///
    /// ```
    /// # use mp_demos::{Context, DemoError, Scenario};
    /// # fn run(_: &Context) -> Result<(), DemoError> { Ok(()) }
    /// let s = Scenario::new("pool-map", "002 Pool", "Pool(4).map(square, [1..5])", "[1, 4, 9, 16, 25]", run);
    /// assert_eq!(s.source, "002 Pool");
    /// ```
    pub const fn new(
        name: &'static str,
        source: &'static str,
        shows: &'static str,
        checks: &'static str,
        run: RunFn,
    ) -> Self {
        Self {
            name,
            source,
            shows,
            checks,
            run,
            time_limit: Self::DEFAULT_TIME_LIMIT,
            skips_with: None,
        }
    }

    /// The same scenario, declared to be skipped where it cannot run, saying `why`
    /// (what is missing and how to install it): the only reason it gives when skipped.
    ///
    /// ```
    /// # use mp_demos::{Context, DemoError, Scenario};
    /// # fn run(_: &Context) -> Result<(), DemoError> { Ok(()) }
    /// let s = Scenario::new("cluster-pool", "beyond", "a Pool on Redis", "every result once", run)
    ///     .with_skip_reason("redis-server is not installed");
    /// assert_eq!(s.skips_with, Some("redis-server is not installed"));
    /// ```
    pub const fn with_skip_reason(self, why: &'static str) -> Self {
        Self {
            skips_with: Some(why),
            ..self
        }
    }

    /// The same scenario, with a time limit of `seconds` for `demos all`.
    ///
    /// ```
    /// # use mp_demos::{Context, DemoError, Scenario};
    /// # fn run(_: &Context) -> Result<(), DemoError> { Ok(()) }
    /// let s = Scenario::new("gil-free-cpu", "004 3.3", "CPU-bound work", "a table", run).with_time_limit(300);
    /// assert_eq!(s.time_limit.as_secs(), 300);
    /// ```
    pub const fn with_time_limit(self, seconds: u64) -> Self {
        Self {
            time_limit: Duration::from_secs(seconds),
            ..self
        }
    }

    /// The text `demos <name> --help` shows: what it shows, what it checks, where it is from.
    ///
    /// ```
    /// # use mp_demos::{Context, DemoError, Scenario};
    /// # fn run(_: &Context) -> Result<(), DemoError> { Ok(()) }
    /// let s = Scenario::new("lock-balance", "004 3.2", "balance += n; balance -= n", "0", run);
    /// assert!(s.about().contains("Checks: 0"));
    /// ```
    pub fn about(&self) -> String {
        format!(
            "{}\n\nChecks: {}\nSource: {}",
            self.shows, self.checks, self.source
        )
    }
}
