//! [`StartMethod`] and the process-wide default.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// How a child process comes to be, as Python's start methods.
///
/// | method | how | cost | what crosses |
/// |---|---|---|---|
/// | [`Fork`](StartMethod::Fork) | `fork()` of this process | cheapest from a small parent; grows with the parent's memory | everything: the child is a copy |
/// | [`Spawn`](StartMethod::Spawn) | a fresh run of this binary (`posix_spawn`) | one `exec` per child, whatever the parent's size | the target's address, the arguments |
/// | [`Forkserver`](StartMethod::Forkserver) | `fork()` of a clean server process, itself a fresh run of this binary started once | one `fork` of a small single-threaded process | the same as spawn |
///
/// **A parent with a large heap** should not fork: `fork()` copies the parent's page
/// tables, about 2 MiB of them per GiB it has touched, and the child's exit tears the
/// copy down, so a fork from a parent holding gigabytes costs tens to hundreds of
/// milliseconds where it costs a fraction of one from a small parent. The forkserver
/// (whose server is small, whatever the parent grows to) and spawn (which shares the
/// parent's memory until its `exec`) cost the same from any parent. Compare them on your
/// machine with the mp-bench row `process-start-join-big-parent`.
///
/// It is a serde value, so a child can be told which method to use for its own children.
///
/// `Forkserver` is the default (Python 3.14's on Linux): a child starts from a clean,
/// single-threaded process, so no lock that another thread of the parent happened to
/// hold can be frozen in it, and starting one costs a fork rather than an exec.
///
/// ```
/// use mp_processes::StartMethod;
///
/// assert_eq!(StartMethod::default(), StartMethod::Forkserver);
/// assert_eq!("spawn".parse::<StartMethod>(), Ok(StartMethod::Spawn));
/// assert_eq!(StartMethod::Fork.to_string(), "fork");
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[non_exhaustive]
pub enum StartMethod {
    /// The child is a `fork()` of the parent: it starts with a copy of all its memory.
    ///
    /// Fast, and the only method that can run a capturing closure
    /// ([`Process::fork`](crate::Process::fork)). But only the forking thread exists in
    /// the child: a lock some other thread of the parent held at that moment (inside
    /// `malloc`, a logger, a `Mutex` of yours) stays locked forever in the child. In a
    /// multi-threaded parent that is a real risk, which is why Python 3.12 warns about
    /// it and 3.14 no longer makes it the default.
    Fork,
    /// The child runs this binary afresh (`/proc/self/exe`), picks its call up before
    /// `main` and runs only the target: nothing of the parent's state but what the
    /// arguments carry. Safe in any parent.
    Spawn,
    /// A forkserver, started once per parent by running this binary afresh, forks each
    /// child. Safe in any parent, and each start costs a fork of a small process.
    #[default]
    Forkserver,
}

impl StartMethod {
    /// Python's name for the method: `"fork"`, `"spawn"`, `"forkserver"`.
    ///
    /// ```
    /// assert_eq!(mp_processes::StartMethod::Forkserver.name(), "forkserver");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            StartMethod::Fork => "fork",
            StartMethod::Spawn => "spawn",
            StartMethod::Forkserver => "forkserver",
        }
    }

    /// Every method, as Python's `multiprocessing.get_all_start_methods()`.
    ///
    /// ```
    /// assert_eq!(mp_processes::StartMethod::all().len(), 3);
    /// ```
    pub fn all() -> [StartMethod; 3] {
        [
            StartMethod::Forkserver,
            StartMethod::Spawn,
            StartMethod::Fork,
        ]
    }

    fn to_bits(self) -> u8 {
        match self {
            StartMethod::Fork => 1,
            StartMethod::Spawn => 2,
            StartMethod::Forkserver => 3,
        }
    }

    fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            1 => Some(StartMethod::Fork),
            2 => Some(StartMethod::Spawn),
            3 => Some(StartMethod::Forkserver),
            _ => None,
        }
    }
}

impl fmt::Display for StartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given to [`str::parse`] is not a start method.
///
/// ```
/// let error = "vfork".parse::<mp_processes::StartMethod>().unwrap_err();
/// assert_eq!(error.to_string(), "unknown start method \"vfork\" (fork, spawn, forkserver)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownStartMethod(pub String);

impl fmt::Display for UnknownStartMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown start method {:?} (fork, spawn, forkserver)",
            self.0
        )
    }
}

impl std::error::Error for UnknownStartMethod {}

impl std::str::FromStr for StartMethod {
    type Err = UnknownStartMethod;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        StartMethod::all()
            .into_iter()
            .find(|method| method.name() == name)
            .ok_or_else(|| UnknownStartMethod(name.to_owned()))
    }
}

/// 0: not set, so [`StartMethod::default()`].
static DEFAULT: AtomicU8 = AtomicU8::new(0);

/// Sets the start method of every process that does not choose its own, as Python's
/// `multiprocessing.set_start_method(name, force=True)`. A [`Context`](crate::Context)
/// or [`Process::start_method`](crate::Process::start_method) overrides it.
///
/// ```
/// use mp_processes::{StartMethod, get_start_method, set_start_method};
///
/// set_start_method(StartMethod::Spawn);
/// assert_eq!(get_start_method(), StartMethod::Spawn);
/// # set_start_method(StartMethod::Forkserver);
/// ```
pub fn set_start_method(method: StartMethod) {
    DEFAULT.store(method.to_bits(), Ordering::Relaxed);
}

/// The start method of processes that do not choose their own, as Python's
/// `multiprocessing.get_start_method()`.
///
/// ```
/// use mp_processes::{StartMethod, get_start_method};
///
/// let method = get_start_method(); // Forkserver unless set_start_method changed it
/// assert!(StartMethod::all().contains(&method));
/// ```
pub fn get_start_method() -> StartMethod {
    StartMethod::from_bits(DEFAULT.load(Ordering::Relaxed)).unwrap_or_default()
}
