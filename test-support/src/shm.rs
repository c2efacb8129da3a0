//! A check that a test leaves nothing behind in `/dev/shm`.
//!
//! A named shared-memory block that nobody unlinks outlives every process that used it,
//! until the machine reboots: a leak that no test failure would otherwise show. The
//! check lists `/dev/shm` when a test starts and again when it ends. The tests of one
//! binary run in parallel threads, so a file that is new at the end may belong to
//! another test still running; the check therefore waits (up to a bound) for each new
//! file to go, and fails only for those that stay.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::{PATIENCE, holds_within};

const DEV_SHM: &str = "/dev/shm";

/// Fails the test (panics when dropped, or in [`DevShmCheck::finish`]) if a file that
/// was not in `/dev/shm` when it was made is still there at the end, after waiting up to
/// [`PATIENCE`] for other tests' files to go. Only names that start with its prefix
/// count (all names, with an empty prefix).
///
/// ```
/// let check = test_support::DevShmCheck::start("");
/// let path = format!("/dev/shm/test-support-doc-{}", std::process::id());
/// std::fs::write(&path, b"scratch")?;
/// std::fs::remove_file(&path)?;
/// check.finish();
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// ```should_panic
/// let check = test_support::DevShmCheck::start("test-support-leak-")
///     .with_bound(std::time::Duration::from_millis(10));
/// let path = format!("/dev/shm/test-support-leak-{}", std::process::id());
/// std::fs::write(&path, b"left behind").unwrap();
/// let outcome = std::panic::catch_unwind(move || check.finish());
/// std::fs::remove_file(&path).unwrap();
/// std::panic::resume_unwind(outcome.unwrap_err());
/// ```
#[derive(Debug)]
pub struct DevShmCheck {
    prefix: String,
    before: BTreeSet<String>,
    bound: Duration,
    finished: bool,
}

impl DevShmCheck {
    /// Records what `/dev/shm` holds now whose name starts with `prefix`.
    ///
    /// ```
    /// let check = test_support::DevShmCheck::start("psm_");
    /// check.finish();
    /// ```
    pub fn start(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            before: listing(prefix),
            bound: PATIENCE,
            finished: false,
        }
    }

    /// How long the end of the test waits for new files to go (default [`PATIENCE`]).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let check = test_support::DevShmCheck::start("").with_bound(Duration::from_secs(1));
    /// check.finish();
    /// ```
    pub fn with_bound(mut self, bound: Duration) -> Self {
        self.bound = bound;
        self
    }

    /// The new files that are still there after the bound (the ones that appear while
    /// it waits are another test's, and are not awaited).
    ///
    /// ```
    /// let check = test_support::DevShmCheck::start("");
    /// assert!(check.left_behind().is_empty());
    /// # check.finish();
    /// ```
    pub fn left_behind(&self) -> Vec<String> {
        let new: Vec<String> = listing(&self.prefix)
            .difference(&self.before)
            .cloned()
            .collect();
        let present = |name: &String| std::path::Path::new(DEV_SHM).join(name).exists();
        holds_within(|| !new.iter().any(present), self.bound);
        new.into_iter().filter(present).collect()
    }

    /// Ends the check: panics, failing the test, if the test left a file behind.
    ///
    /// ```
    /// test_support::DevShmCheck::start("").finish();
    /// ```
    pub fn finish(mut self) {
        self.finished = true;
        let left = self.left_behind();
        assert!(left.is_empty(), "left behind in {DEV_SHM}: {left:?}");
    }
}

impl Drop for DevShmCheck {
    fn drop(&mut self) {
        // A test that fails already needs no second failure; a panic while unwinding
        // would abort the whole test binary.
        if !self.finished && !std::thread::panicking() {
            let left = self.left_behind();
            assert!(left.is_empty(), "left behind in {DEV_SHM}: {left:?}");
        }
    }
}

fn listing(prefix: &str) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(DEV_SHM) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with(prefix))
        .collect()
}
