//! State that belongs to one process and must be forgotten in a forked child.
//!
//! A forked child starts as a copy of its parent: caches of the parent's process id and
//! of the forking thread's id, and any per-process record (a reactor thread that does not
//! exist in the child, a table of the parent's children), come along and are wrong there.
//! One `pthread_atfork` child handler, installed at the first use of this module, resets
//! the id caches and bumps a fork generation; state elsewhere remembers the generation it
//! was made in and starts afresh when [`fork_generation`] has moved on.
//!
//! The ids are cached because `getpid()` and `gettid()` are system calls, and the
//! uncontended paths of locks must not pay for one.
//!
//! The handler's installation is itself state a fork can catch halfway: a `Once` would
//! leave a child forked during it waiting for a thread that is not there. So the
//! installer is recorded by process id, and a child that finds its parent's
//! installation unfinished does it again.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

thread_local! {
    static THREAD_ID: Cell<i32> = const { Cell::new(0) };
}
static PROCESS_ID: AtomicI32 = AtomicI32::new(0);
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// The fork handler's installation: [`NOT_INSTALLED`], [`INSTALLED`], or the id of the
/// process one of whose threads is installing it.
static FORK_HANDLER: AtomicI32 = AtomicI32::new(NOT_INSTALLED);
const NOT_INSTALLED: i32 = 0;
const INSTALLED: i32 = -1;

extern "C" fn reset_in_child() {
    // The child's only thread is the copy of the forking thread: its cached id is the
    // parent's, and so is the cached process id.
    let _ = THREAD_ID.try_with(|id| id.set(0));
    PROCESS_ID.store(0, Ordering::Relaxed);
    GENERATION.fetch_add(1, Ordering::Relaxed);
    // Running here means registered here, even if the parent's installer had not said
    // so yet when it forked.
    FORK_HANDLER.store(INSTALLED, Ordering::Release);
}

#[inline]
fn install_fork_handler() {
    if FORK_HANDLER.load(Ordering::Acquire) != INSTALLED {
        install_once(&FORK_HANDLER, register_fork_handler);
    }
}

fn register_fork_handler() {
    // SAFETY: registers a child-side handler that only stores to a thread-local `Cell`
    // (no allocation, no lock: the `const` initialiser needs no lazy set-up) and to
    // atomics, all async-signal-safe, which is what a handler running in a freshly forked
    // child needs.
    let rc = unsafe { libc::pthread_atfork(None, None, Some(reset_in_child)) };
    if rc != 0 {
        tracing::warn!(
            rc,
            "pthread_atfork failed: cached ids may be stale after fork"
        );
    }
}

/// Runs `register` once per process lineage, as `Once` would, except that a process
/// forked while its parent was inside `register` does not wait for a thread it does not
/// have: it registers itself. (The parent's registration did not reach it, or the handler
/// would have run in it and said so.) Threads of one process wait for each other, so
/// nothing is stamped with a generation before the handler that moves it is in place.
#[cold]
fn install_once(state: &AtomicI32, register: fn()) {
    // SAFETY: getpid takes no arguments and cannot fail. (Not the cached id: the cache
    // is only right once the handler that resets it is installed.)
    let this_process = unsafe { libc::getpid() };
    let mut seen = state.load(Ordering::Acquire);
    loop {
        if seen == INSTALLED {
            return;
        }
        if seen == this_process {
            // Another thread of this process is registering: one call, done at once.
            std::thread::yield_now();
            seen = state.load(Ordering::Acquire);
            continue;
        }
        // Nobody yet, or a parent caught halfway by the fork that made this process.
        match state.compare_exchange(seen, this_process, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                register();
                state.store(INSTALLED, Ordering::Release);
                return;
            }
            Err(now) => seen = now,
        }
    }
}

/// The calling process's id (`getpid()`), cached; right in a forked child too.
///
/// ```
/// assert_eq!(mp_sys::process::current_pid(), std::process::id() as i32);
/// ```
#[inline]
pub fn current_pid() -> i32 {
    let id = PROCESS_ID.load(Ordering::Relaxed);
    if id != 0 {
        return id;
    }
    install_fork_handler();
    // SAFETY: getpid takes no arguments and cannot fail.
    let id = unsafe { libc::getpid() };
    PROCESS_ID.store(id, Ordering::Relaxed);
    id
}

/// The calling thread's kernel thread id (`gettid()`), cached per thread; right in a
/// forked child too. The main thread's equals [`current_pid`]. While the thread's locals
/// are being torn down (a destructor, an exit hook), the id is asked of the kernel each
/// time.
///
/// ```
/// assert_eq!(mp_sys::process::current_tid(), mp_sys::process::current_pid());
/// let other = std::thread::spawn(mp_sys::process::current_tid).join().unwrap();
/// assert_ne!(other, mp_sys::process::current_pid());
/// ```
#[inline]
pub fn current_tid() -> i32 {
    THREAD_ID
        .try_with(|cached| {
            let id = cached.get();
            if id != 0 {
                return id;
            }
            install_fork_handler();
            let id = tid_from_kernel();
            cached.set(id);
            id
        })
        .unwrap_or_else(|_| tid_from_kernel())
}

fn tid_from_kernel() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    let raw = unsafe { libc::syscall(libc::SYS_gettid) };
    // Thread ids are positive `pid_t`s.
    i32::try_from(raw).unwrap_or(i32::MAX)
}

/// How many forks separate this process from the first process that used this module:
/// 0 there, bumped in each forked child (by the `pthread_atfork` child handler, so only
/// for forks through libc's `fork`, which is what `nix::unistd::fork` and
/// `std::process::Command` use).
///
/// State that must not cross into a child stores the generation it was made in and
/// starts afresh when it differs:
///
/// ```
/// use mp_sys::process::fork_generation;
///
/// struct PerProcess {
///     made_in: u64,
///     children: Vec<i32>,
/// }
///
/// impl PerProcess {
///     fn get(&mut self) -> &mut Vec<i32> {
///         if self.made_in != fork_generation() {
///             // Forked since: the parent's children are not ours.
///             self.children.clear();
///             self.made_in = fork_generation();
///         }
///         &mut self.children
///     }
/// }
///
/// let mut state = PerProcess { made_in: fork_generation(), children: vec![42] };
/// assert_eq!(state.get(), &[42]);
/// ```
#[inline]
pub fn fork_generation() -> u64 {
    install_fork_handler();
    GENERATION.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    static REGISTERED: AtomicU64 = AtomicU64::new(0);

    fn count_registration() {
        REGISTERED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn an_installation_caught_halfway_by_a_fork_is_finished_in_the_child() {
        // What a child forked during its parent's installation finds: an installer that
        // is not this process (no process has this id: ids stay below 2^22).
        let state = AtomicI32::new(i32::MAX);
        let before = REGISTERED.load(Ordering::SeqCst);
        install_once(&state, count_registration);
        assert_eq!(state.load(Ordering::SeqCst), INSTALLED);
        install_once(&state, count_registration);
        assert_eq!(REGISTERED.load(Ordering::SeqCst), before + 1);
    }

    #[test]
    fn threads_installing_together_register_once() {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        fn count() {
            CALLS.fetch_add(1, Ordering::SeqCst);
        }
        let state = AtomicI32::new(NOT_INSTALLED);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    install_once(&state, count);
                    assert_eq!(state.load(Ordering::SeqCst), INSTALLED);
                });
            }
        });
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_forked_child_sees_new_ids_and_a_new_generation() {
        let parent_pid = current_pid();
        let parent_tid = current_tid();
        let generation = fork_generation();
        let (mut reader, writer) = std::io::pipe().unwrap();
        // SAFETY: the child only computes, writes to a pipe and `_exit`s: nothing that
        // could need a lock another thread of the test harness held at fork time beyond
        // what the atfork handler resets (the ids are read from caches and syscalls).
        match unsafe { libc::fork() } {
            0 => {
                let fresh = current_pid() != parent_pid
                    && current_tid() == current_pid()
                    && current_tid() != parent_tid
                    && fork_generation() == generation + 1;
                let _ = std::io::Write::write_all(&mut &writer, &[u8::from(fresh)]);
                // SAFETY: ends the child at once, without running the parent's destructors.
                unsafe { libc::_exit(0) }
            }
            -1 => panic!("fork failed"),
            child => {
                drop(writer);
                let mut answer = [0u8; 1];
                // The child writes once and exits (closing the pipe): the read is bounded
                // by the child's life, and the child is reaped before anything is checked.
                let read = std::io::Read::read_exact(&mut reader, &mut answer);
                let mut status = 0;
                // SAFETY: reaps the child we just forked; `status` is a valid out pointer.
                assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
                read.unwrap();
                assert_eq!(answer, [1], "the child saw its own ids and generation");
                assert_eq!(current_pid(), parent_pid);
                assert_eq!(fork_generation(), generation);
            }
        }
    }
}
