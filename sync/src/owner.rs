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
    /// anything, and its parent may not reap it for a long time (mp-sys's `liveness`).
    pub(crate) fn is_alive(id: u32) -> bool {
        if id & super::PROCESS_MARK != 0 {
            mp_sys::liveness::process_is_alive(id & !super::PROCESS_MARK)
        } else {
            mp_sys::liveness::task_is_alive(id)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

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
