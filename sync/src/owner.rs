//! Who holds a lock, and whether that holder still lives.
//!
//! A lock word stores its holder's kernel id: the thread id for owned locks (`RLock`,
//! `Mutex`, the lock of a `Condition`) and the process id for `Lock`, which any thread of
//! any process may release. Both come from the same id space, so one liveness check
//! serves both. The ids come from mp-sys's per-process caches (`mp_sys::process`), which a
//! forked child resets, so the uncontended lock path pays for no system call.

/// Kernel thread ids and process ids fit in 22 bits (`PID_MAX_LIMIT` is 2^22), so 30 bits
/// leave the top two bits of a lock word free for flags.
pub(crate) const ID_BITS: u32 = 30;

/// Marks an id as a process id rather than a thread id. The two die differently: a thread
/// is dead once its own task is, a process only once *all* its tasks are (its main thread
/// may have exited, showing the process as a zombie, while other threads run on).
#[cfg_attr(loom, allow(dead_code))]
const PROCESS_MARK: u32 = 1 << 29;

#[cfg(not(loom))]
mod imp {
    use mp_sys::process::{current_pid, current_tid};

    fn id_from_kernel(raw: i32) -> u32 {
        // Kernel ids are positive and below 2^22; anything else would be a kernel bug.
        u32::try_from(raw).unwrap_or(u32::MAX) & ((1 << super::ID_BITS) - 1)
    }

    /// The calling thread's kernel thread id.
    #[inline]
    pub(crate) fn current_thread_id() -> u32 {
        id_from_kernel(current_tid())
    }

    /// The calling process's id, marked as one.
    #[inline]
    pub(crate) fn current_process_id() -> u32 {
        id_from_kernel(current_pid()) | super::PROCESS_MARK
    }

    /// Whether the thread or process `id` (as made by `current_thread_id` or
    /// `current_process_id`) still runs. A zombie counts as dead: it can never release
    /// anything, and its parent may not reap it for a long time.
    pub(crate) fn is_alive(id: u32) -> bool {
        if id & super::PROCESS_MARK != 0 {
            let pid = id & !super::PROCESS_MARK;
            task_is_alive(pid) || any_thread_is_alive(pid)
        } else {
            task_is_alive(id)
        }
    }

    /// A process whose main thread is a zombie still lives if another of its threads does.
    fn any_thread_is_alive(pid: u32) -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        tasks.flatten().any(|task| {
            std::fs::read(task.path().join("stat")).is_ok_and(|stat| state_is_running(&stat))
        })
    }

    fn task_is_alive(id: u32) -> bool {
        match std::fs::read(format!("/proc/{id}/stat")) {
            Ok(stat) => state_is_running(&stat),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                if std::path::Path::new("/proc/self/stat").exists() {
                    false
                } else {
                    signal_zero_finds(id)
                }
            }
            // Unreadable for another reason (permissions): fall back to the signal probe.
            Err(_) => signal_zero_finds(id),
        }
    }

    /// `/proc/ID/stat` reads `pid (comm) S ...`; `comm` may itself hold parentheses,
    /// so the state is the first field after the *last* `)`.
    fn state_is_running(stat: &[u8]) -> bool {
        let Some(close) = stat.iter().rposition(|&b| b == b')') else {
            return true;
        };
        let state = stat[close + 1..].iter().find(|b| !b.is_ascii_whitespace());
        !matches!(state, Some(b'Z' | b'X' | b'x'))
    }

    fn signal_zero_finds(id: u32) -> bool {
        let Ok(pid) = libc::pid_t::try_from(id) else {
            return false;
        };
        // SAFETY: signal 0 performs only the existence and permission checks.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parses_state_after_the_last_parenthesis() {
            assert!(state_is_running(b"12 (a) b) S 1 2"));
            assert!(!state_is_running(b"12 (we (ird)) Z 1 2"));
            assert!(!state_is_running(b"12 (x) X 1"));
        }

        #[test]
        fn ids_are_cached_and_alive() {
            let tid = current_thread_id();
            assert_eq!(tid, current_thread_id());
            assert!(is_alive(tid));
            assert!(is_alive(current_process_id()));
            assert_ne!(
                current_process_id(),
                tid,
                "process ids are marked apart from thread ids"
            );
            let other = std::thread::spawn(current_thread_id).join().unwrap();
            assert_ne!(other, tid);
            assert!(!is_alive(other), "an exited thread is dead");
        }
    }
}

#[cfg(loom)]
mod imp {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU32, Ordering};

    static NEXT: AtomicU32 = AtomicU32::new(1);
    loom::thread_local! {
        static THREAD_ID: Cell<u32> = Cell::new(0);
    }

    pub(crate) fn current_thread_id() -> u32 {
        THREAD_ID.with(|cached| {
            if cached.get() == 0 {
                cached.set(NEXT.fetch_add(1, Ordering::Relaxed) % (1 << 20) + 2);
            }
            cached.get()
        })
    }

    pub(crate) fn current_process_id() -> u32 {
        1
    }

    pub(crate) fn is_alive(_id: u32) -> bool {
        true
    }
}

pub(crate) use imp::{current_process_id, current_thread_id, is_alive};
