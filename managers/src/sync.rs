//! [`Semaphore`], [`Lock`] and [`Event`]: proxies of the server's blocking objects
//! (Python's `manager.Semaphore()`, `manager.Lock()`, `manager.Event()`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::link::{Link, unexpected};
use crate::protocol::{Reply, Request};

/// A forever wait, or a bounded one: `Duration::MAX` (past the clock's end) is forever.
fn bounded(timeout: Duration) -> Option<Duration> {
    (timeout != Duration::MAX).then_some(timeout)
}

fn flag(reply: Reply) -> Result<bool, Error> {
    match reply {
        Reply::Flag(flag) => Ok(flag),
        other => Err(unexpected(&other)),
    }
}

/// A wait's flag as the family's shape: `Ok(())` when it came, else `not_now`
/// ([`Error::WouldBlock`] for a `try_` call, [`Error::TimedOut`] for a `_timeout` one).
fn came(reply: Reply, not_now: Error) -> Result<(), Error> {
    if flag(reply)? { Ok(()) } else { Err(not_now) }
}

fn done(reply: Reply) -> Result<(), Error> {
    match reply {
        Reply::Done => Ok(()),
        other => Err(unexpected(&other)),
    }
}

/// A counting semaphore on a manager's server (Python's `manager.Semaphore(n)` and
/// `manager.BoundedSemaphore(n)`), usable from every process that holds the proxy.
///
/// A caller that dies while waiting does not take a count with it; one that dies
/// holding a count does (as in Python): release it from another process.
///
/// ```
/// let manager = mp_managers::Manager::start()?;
/// let slots = manager.semaphore(2)?;
/// slots.try_acquire()?;
/// slots.try_acquire()?;
/// assert!(matches!(slots.try_acquire(), Err(mp_managers::Error::WouldBlock)));
/// slots.release()?;
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Semaphore {
    link: Link,
    id: u64,
}

impl Semaphore {
    pub(crate) fn new(link: Link, id: u64) -> Self {
        Semaphore { link, id }
    }

    fn acquire_within(&self, timeout: Option<Duration>, not_now: Error) -> Result<(), Error> {
        came(
            self.link.call(Request::Acquire {
                id: self.id,
                timeout,
            })?,
            not_now,
        )
    }

    /// Takes a count, waiting as long as it takes.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let slots = manager.semaphore(1)?;
    /// slots.acquire()?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<(), Error> {
        self.acquire_within(None, Error::TimedOut)
    }

    /// Takes a count if one is free now; [`Error::WouldBlock`] if none is (Python's
    /// `acquire(blocking=False)` is `try_acquire().is_ok()`).
    ///
    /// ```
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// assert!(matches!(manager.semaphore(0)?.try_acquire(), Err(Error::WouldBlock)));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn try_acquire(&self) -> Result<(), Error> {
        self.acquire_within(Some(Duration::ZERO), Error::WouldBlock)
    }

    /// Takes a count, waiting at most `timeout`; [`Error::TimedOut`] if none came free
    /// (Python's `acquire(timeout=t)` is `acquire_timeout(t).is_ok()`). `Duration::ZERO`
    /// tries once; `Duration::MAX` waits for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let none_free = manager.semaphore(0)?.acquire_timeout(Duration::from_millis(1));
    /// assert!(matches!(none_free, Err(Error::TimedOut)));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.acquire_within(bounded(timeout), Error::TimedOut)
    }

    /// Gives a count back, waking a waiter. A bounded semaphore (and a [`Lock`]) refuses
    /// a release past its bound with [`Refusal::ReleasedTooMany`](crate::Refusal).
    ///
    /// ```
    /// use mp_managers::{Error, Refusal};
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let bounded = manager.bounded_semaphore(1)?;
    /// assert!(matches!(bounded.release(), Err(Error::Refused(Refusal::ReleasedTooMany))));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        done(self.link.call(Request::Release { id: self.id })?)
    }
}

/// A lock on a manager's server (Python's `manager.Lock()`): a [`Semaphore`] of one,
/// releasable by any holder, as Python's.
///
/// ```
/// let manager = mp_managers::Manager::start()?;
/// let lock = manager.lock()?;
/// lock.acquire()?;
/// assert!(lock.try_acquire().is_err());
/// lock.release()?;
/// # Ok::<(), mp_managers::Error>(())
/// ```
pub type Lock = Semaphore;

/// An event on a manager's server (Python's `manager.Event()`).
///
/// ```
/// use std::time::Duration;
///
/// let manager = mp_managers::Manager::start()?;
/// let ready = manager.event()?;
/// assert!(ready.wait_timeout(Duration::from_millis(1)).is_err());
/// ready.set()?;
/// assert!(ready.is_set()?);
/// ready.wait()?;
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    link: Link,
    id: u64,
}

impl Event {
    pub(crate) fn new(link: Link, id: u64) -> Self {
        Event { link, id }
    }

    fn flip(&self, set: bool) -> Result<(), Error> {
        done(self.link.call(Request::EventSet { id: self.id, set })?)
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let event = manager.event()?;
    /// event.set()?;
    /// assert!(event.is_set()?);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn set(&self) -> Result<(), Error> {
        self.flip(true)
    }

    /// Clears the flag.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let event = manager.event()?;
    /// event.set()?;
    /// event.clear()?;
    /// assert!(!event.is_set()?);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn clear(&self) -> Result<(), Error> {
        self.flip(false)
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert!(!manager.event()?.is_set()?);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn is_set(&self) -> Result<bool, Error> {
        flag(self.link.call(Request::EventIsSet { id: self.id })?)
    }

    fn wait_within(&self, timeout: Option<Duration>) -> Result<(), Error> {
        came(
            self.link.call(Request::EventWait {
                id: self.id,
                timeout,
            })?,
            Error::TimedOut,
        )
    }

    /// Waits until the flag is set.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let event = manager.event()?;
    /// event.set()?;
    /// event.wait()?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        self.wait_within(None)
    }

    /// Waits at most `timeout` for the flag: [`Error::TimedOut`] if it was not set
    /// (Python's `wait(timeout)` is `wait_timeout(t).is_ok()`). `Duration::ZERO` looks
    /// once; `Duration::MAX` waits for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let event = manager.event()?;
    /// assert!(matches!(event.wait_timeout(Duration::ZERO), Err(Error::TimedOut)));
    /// event.set()?;
    /// event.wait_timeout(Duration::ZERO)?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.wait_within(bounded(timeout))
    }
}

/// A barrier on a manager's server for `parties` callers (Python's
/// `manager.Barrier(parties)`): each [`wait`](Self::wait) blocks until `parties` callers,
/// from any processes, are waiting, then all go on.
///
/// ```
/// let manager = mp_managers::Manager::start()?;
/// let alone = manager.barrier(1)?;
/// assert_eq!(alone.wait()?, 0); // one party: passes at once
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Barrier {
    link: Link,
    id: u64,
}

impl Barrier {
    pub(crate) fn new(link: Link, id: u64) -> Self {
        Barrier { link, id }
    }

    fn wait_within(&self, timeout: Option<Duration>) -> Result<u32, Error> {
        match self.link.call(Request::BarrierWait {
            id: self.id,
            timeout,
        })? {
            Reply::Len(index) => Ok(u32::try_from(index).unwrap_or(u32::MAX)),
            // This caller's timeout elapsed (and broke the barrier for the others).
            Reply::Flag(false) => Err(Error::TimedOut),
            other => Err(unexpected(&other)),
        }
    }

    /// Waits for all parties; returns this caller's arrival index (`0` for the first).
    /// Fails with [`Refusal::BrokenBarrier`](crate::Refusal::BrokenBarrier) if the
    /// barrier is or becomes broken.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let pair = manager.barrier(2)?;
    /// let other = pair.clone();
    /// let thread = std::thread::spawn(move || other.wait());
    /// let mine = pair.wait()?;
    /// let theirs = thread.join().unwrap()?;
    /// assert_eq!(mine + theirs, 1); // one of them arrived first
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn wait(&self) -> Result<u32, Error> {
        self.wait_within(None)
    }

    /// [`wait`](Self::wait) for at most `timeout`; a timeout breaks the barrier for
    /// every waiter, as Python's does: this caller gets [`Error::TimedOut`], the others
    /// (and every later one, until [`reset`](Self::reset))
    /// [`Refusal::BrokenBarrier`](crate::Refusal::BrokenBarrier).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_managers::{Error, Refusal};
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let barrier = manager.barrier(2)?;
    /// let waited = barrier.wait_timeout(Duration::from_millis(1));
    /// assert!(matches!(waited, Err(Error::TimedOut)));
    /// assert!(matches!(barrier.wait(), Err(Error::Refused(Refusal::BrokenBarrier))));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, Error> {
        self.wait_within(bounded(timeout))
    }

    /// Breaks the barrier: every waiter, and every later one, fails (Python's `abort`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let barrier = manager.barrier(2)?;
    /// barrier.abort()?;
    /// assert!(barrier.wait().is_err());
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn abort(&self) -> Result<(), Error> {
        done(self.link.call(Request::BarrierBreak {
            id: self.id,
            broken: true,
        })?)
    }

    /// Mends a broken barrier, with no one arrived (Python's `reset`). Unlike Python's,
    /// it does not fail callers already waiting: abort first to release them.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let barrier = manager.barrier(1)?;
    /// barrier.abort()?;
    /// barrier.reset()?;
    /// assert_eq!(barrier.wait()?, 0);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn reset(&self) -> Result<(), Error> {
        done(self.link.call(Request::BarrierBreak {
            id: self.id,
            broken: false,
        })?)
    }
}

/// A condition variable on a manager's server, tied to a [`Lock`] (Python's
/// `manager.Condition(lock)`): [`wait`](Self::wait) releases the lock, sleeps until
/// notified, and takes the lock again.
///
/// ```
/// let manager = mp_managers::Manager::start()?;
/// let ready = manager.condition(None)?;
/// let flag = manager.value(&false)?;
/// let (waiter_ready, waiter_flag) = (ready.clone(), flag.clone());
/// let waiter = std::thread::spawn(move || -> Result<(), mp_managers::Error> {
///     waiter_ready.acquire()?;
///     while !waiter_flag.get()? {
///         waiter_ready.wait()?;
///     }
///     waiter_ready.release()
/// });
/// ready.acquire()?;
/// flag.set(&true)?;
/// ready.notify_all()?;
/// ready.release()?;
/// waiter.join().unwrap()?;
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Condition {
    link: Link,
    id: u64,
    lock: Lock,
}

impl Condition {
    pub(crate) fn new(link: Link, id: u64, lock: Lock) -> Self {
        Condition { link, id, lock }
    }

    /// The lock this condition releases while it waits.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let condition = manager.condition(None)?;
    /// condition.lock().try_acquire()?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// Takes the lock ([`Lock::acquire`]).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let condition = manager.condition(None)?;
    /// condition.acquire()?;
    /// condition.release()?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn acquire(&self) -> Result<(), Error> {
        self.lock.acquire()
    }

    /// Gives the lock back ([`Lock::release`]).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let condition = manager.condition(None)?;
    /// condition.acquire()?;
    /// condition.release()?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        self.lock.release()
    }

    fn wait_within(&self, timeout: Option<Duration>) -> Result<(), Error> {
        came(
            self.link.call(Request::ConditionWait {
                id: self.id,
                lock: self.lock.id,
                timeout,
            })?,
            Error::TimedOut,
        )
    }

    /// Releases the lock (which the caller holds), waits for a notification, and
    /// reacquires the lock. Waiting without the lock fails with
    /// [`Refusal::ReleasedTooMany`](crate::Refusal::ReleasedTooMany).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let condition = manager.condition(None)?;
    /// assert!(condition.wait().is_err()); // the lock is not held
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn wait(&self) -> Result<(), Error> {
        self.wait_within(None)
    }

    /// [`wait`](Self::wait) at most `timeout` for the notification: [`Error::TimedOut`]
    /// if none came (Python's `wait(timeout)` is `wait_timeout(t).is_ok()`). The lock is
    /// held again in every case, a timeout included.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let condition = manager.condition(None)?;
    /// condition.acquire()?;
    /// let waited = condition.wait_timeout(Duration::from_millis(1));
    /// assert!(matches!(waited, Err(Error::TimedOut)));
    /// condition.release()?; // held again after the timeout
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        self.wait_within(bounded(timeout))
    }

    /// Wakes up to `count` waiters (Python's `notify(n)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// manager.condition(None)?.notify(1)?; // no waiter: nothing happens
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn notify(&self, count: usize) -> Result<(), Error> {
        done(self.link.call(Request::ConditionNotify {
            id: self.id,
            count: count as u64,
        })?)
    }

    /// Wakes every waiter (Python's `notify_all()`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// manager.condition(None)?.notify_all()?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn notify_all(&self) -> Result<(), Error> {
        self.notify(usize::MAX)
    }
}
