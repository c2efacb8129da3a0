//! A pool task's panic is not printed by the worker: the caller gets it from the task's
//! result, as Python's `Pool` keeps a task's exception for `get()`. The test points this
//! process's stderr, which every worker inherits, at a file and reads it afterwards, so
//! this binary holds one test.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use mp_processes::{Error, Pool, StartMethod};

fn failing_task(n: u32) -> u32 {
    if n == 3 {
        panic!("item {n} is bad");
    }
    n
}

/// Runs `work` with fd 2 pointing at a fresh temporary file; returns what was written.
fn stderr_of(work: impl FnOnce()) -> String {
    let mut capture = tempfile_in_tmp();
    // SAFETY: dup of fd 2, which is open for the whole test process; the new descriptor
    // is owned by `saved` and closed exactly once, when it is dropped.
    let saved = unsafe { OwnedFd::from_raw_fd(libc::dup(2)) };
    // SAFETY: dup2 onto fd 2 only replaces which file fd 2 refers to; both descriptors
    // are open, and nothing in this process holds fd 2 as an owned descriptor.
    assert_eq!(unsafe { libc::dup2(capture.as_raw_fd(), 2) }, 2);
    work();
    // SAFETY: as above, restoring the original stderr from the saved duplicate.
    assert_eq!(unsafe { libc::dup2(saved.as_raw_fd(), 2) }, 2);
    let mut written = String::new();
    capture
        .seek(SeekFrom::Start(0))
        .expect("rewind the capture");
    capture
        .read_to_string(&mut written)
        .expect("read the capture");
    written
}

/// An unnamed temporary file (O_TMPFILE): nothing is left behind, whatever happens.
fn tempfile_in_tmp() -> File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open(std::env::temp_dir())
        .expect("an unnamed file in the temporary folder")
}

#[test]
fn a_pool_task_s_panic_reaches_its_result_and_not_stderr() {
    for method in [
        StartMethod::Fork,
        StartMethod::Forkserver,
        StartMethod::Spawn,
    ] {
        let written = stderr_of(|| {
            let pool = Pool::builder()
                .processes(2)
                .start_method(method)
                .build()
                .expect("a pool");
            let outcome = pool
                .apply_async(failing_task, (3,))
                .expect("submitted")
                .get_timeout(Duration::from_secs(30));
            assert!(
                matches!(outcome, Err(Error::Panicked { ref message, .. }) if message == "item 3 is bad"),
                "{method:?}: {outcome:?}"
            );
            pool.close();
            pool.join().expect("the pool joins");
        });
        assert!(
            !written.contains("item 3 is bad"),
            "{method:?}: a worker printed the task's panic:\n{written}"
        );
    }
}
