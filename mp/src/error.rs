//! [`Error`]: every crate's error, one type, for `?` across modules.

use mp_sync::{OwnerDied, TryLockError};
use mp_threads::PutError;

/// Any error of the workspace's crates: what a function that uses several of them
/// returns.
///
/// Each variant holds its crate's own error unchanged (its `Display` is that error's:
/// what happened and what to do), so a caller that cares matches on it:
///
/// ```
/// use mp::ipc::Queue;
///
/// fn next(queue: &Queue<u32>) -> mp::Result<u32> {
///     Ok(queue.try_get()?)
/// }
///
/// let queue = Queue::new()?;
/// match next(&queue) {
///     Err(mp::Error::Ipc(mp::ipc::Error::Empty)) => {} // nothing queued yet
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), mp::Error>(())
/// ```
///
/// The lock results that carry a guard convert too: an [`OwnerDied`] (a previous holder
/// died holding the lock) becomes [`mp_sync::Error::OwnerDied`] and releases the lock
/// with its guard, which is right when the caller cannot repair what the lock guarded;
/// a caller that can repair it matches on the `LockResult` instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From [`mp::sync`](crate::sync): locks, semaphores, events, barriers.
    #[error(transparent)]
    Sync(#[from] mp_sync::Error),
    /// From [`mp::shared_mem`](crate::shared_mem): segments, values, arrays, named blocks.
    #[error(transparent)]
    SharedMem(#[from] mp_shared_mem::Error),
    /// From [`mp::ipc`](crate::ipc): queues, connections, listeners.
    #[error(transparent)]
    Ipc(#[from] mp_ipc::Error),
    /// From [`mp::processes`](crate::processes): processes and the process pool.
    #[error(transparent)]
    Processes(#[from] mp_processes::Error),
    /// From [`mp::threads`](crate::threads): threads, the thread pool, thread queues.
    #[error(transparent)]
    Threads(#[from] mp_threads::Error),
    /// From [`mp::wire`](crate::wire): a message that could not be encoded or decoded.
    #[error(transparent)]
    Wire(#[from] mp_wire::Error),
    /// From [`mp::managers`](crate::managers): a manager's server or one of its proxies.
    #[error(transparent)]
    Managers(#[from] mp_managers::Error),
    /// From [`mp::futures`](crate::futures): a [`FutureError`](mp_futures::FutureError), the
    /// outcome of a future made with it (the pools' futures carry their crate's error).
    #[error(transparent)]
    Futures(#[from] mp_futures::FutureError),
    /// From [`mp::cluster`](crate::cluster): a queue across machines or its Redis server.
    #[error(transparent)]
    Cluster(#[from] mp_cluster::Error),
    /// From [`mp::sys`](crate::sys): the operating system refused a call.
    #[error(transparent)]
    Sys(#[from] mp_sys::Error),
}

/// `Result<T, mp::Error>`.
///
/// ```
/// fn start() -> mp::Result<mp::sync::Event> {
///     Ok(mp::sync::Event::new())
/// }
/// assert!(!start()?.is_set());
/// # Ok::<(), mp::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl<G> From<OwnerDied<G>> for Error {
    fn from(died: OwnerDied<G>) -> Self {
        Error::Sync(died.into())
    }
}

impl<G> From<TryLockError<G>> for Error {
    fn from(error: TryLockError<G>) -> Self {
        Error::Sync(error.into())
    }
}

impl<T> From<PutError<T>> for Error {
    fn from(error: PutError<T>) -> Self {
        Error::Threads(error.into())
    }
}

/// A manager's refusal, as [`mp_managers::Error::Refused`].
impl From<mp_managers::Refusal> for Error {
    fn from(refusal: mp_managers::Refusal) -> Self {
        Error::Managers(refusal.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_twice() -> Result<()> {
        let lock = mp_sync::Lock::new();
        let _held = lock.lock()?;
        let _again = lock.try_lock()?;
        Ok(())
    }

    #[test]
    fn a_lock_held_elsewhere_converts() {
        assert!(matches!(
            lock_twice(),
            Err(Error::Sync(mp_sync::Error::WouldBlock))
        ));
    }

    #[test]
    fn a_full_thread_queue_converts_and_says_so() {
        let queue = mp_threads::Queue::with_maxsize(1);
        let put = || -> Result<()> {
            queue.put(1)?;
            queue.try_put(2)?;
            Ok(())
        };
        let error = put().expect_err("the second put finds the queue full");
        assert!(matches!(error, Error::Threads(_)));
        assert_eq!(error.to_string(), mp_threads::Error::Full.to_string());
    }

    #[test]
    fn the_display_is_the_crate_error_s() {
        let error = Error::from(mp_ipc::Error::Empty);
        assert_eq!(error.to_string(), mp_ipc::Error::Empty.to_string());
    }
}
