//! [`Queue`]: the proxy of a FIFO queue held by a manager's server.

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::link::{Link, decode, encode, unexpected};
use crate::protocol::{Reply, Request};

/// A FIFO queue on a manager's server (Python's `manager.Queue(maxsize)`), usable from
/// every process holding the proxy, including processes on other machines (which
/// mp-ipc's shared-memory `Queue` cannot reach).
///
/// ```
/// let manager = mp_managers::Manager::start()?;
/// let jobs = manager.queue::<String>(None)?;
/// jobs.put(&"first".into())?;
/// assert_eq!(jobs.get()?, "first");
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Queue<T> {
    link: Link,
    id: u64,
    #[serde(skip)]
    types: PhantomData<fn() -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            link: self.link.clone(),
            id: self.id,
            types: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("server", &self.link)
            .field("id", &self.id)
            .finish()
    }
}

fn bounded(timeout: Duration) -> Option<Duration> {
    (timeout != Duration::MAX).then_some(timeout)
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    pub(crate) fn new(link: Link, id: u64) -> Self {
        Queue {
            link,
            id,
            types: PhantomData,
        }
    }

    fn put_within(&self, value: &T, timeout: Option<Duration>) -> Result<(), Error> {
        let request = Request::QueuePut {
            id: self.id,
            value: encode(value)?,
            timeout,
        };
        match self.link.call(request)? {
            Reply::Flag(true) => Ok(()),
            Reply::Flag(false) => Err(Error::Full),
            other => Err(unexpected(&other)),
        }
    }

    fn get_within(&self, timeout: Option<Duration>) -> Result<T, Error> {
        match self.link.call(Request::QueueGet {
            id: self.id,
            timeout,
        })? {
            Reply::Value(Some(bytes)) => decode(&bytes),
            Reply::Value(None) => Err(Error::Empty),
            other => Err(unexpected(&other)),
        }
    }

    /// Adds `value` at the back, waiting while the queue is full.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let queue = manager.queue::<u8>(Some(1))?;
    /// queue.put(&1)?;
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn put(&self, value: &T) -> Result<(), Error> {
        self.put_within(value, None)
    }

    /// Adds `value` if there is room now; [`Error::Full`] if not.
    ///
    /// ```
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let queue = manager.queue::<u8>(Some(1))?;
    /// queue.try_put(&1)?;
    /// assert!(matches!(queue.try_put(&2), Err(Error::Full)));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn try_put(&self, value: &T) -> Result<(), Error> {
        self.put_within(value, Some(Duration::ZERO))
    }

    /// Adds `value`, waiting at most `timeout` for room; [`Error::Full`] if none came.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let queue = manager.queue::<u8>(Some(0))?;
    /// assert!(matches!(queue.put_timeout(&1, Duration::from_millis(1)), Err(Error::Full)));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn put_timeout(&self, value: &T, timeout: Duration) -> Result<(), Error> {
        self.put_within(value, bounded(timeout))
    }

    /// Takes the front value, waiting while the queue is empty.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let queue = manager.queue::<u8>(None)?;
    /// queue.put(&4)?;
    /// assert_eq!(queue.get()?, 4);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.get_within(None)
    }

    /// Takes the front value if there is one; [`Error::Empty`] if not.
    ///
    /// ```
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// assert!(matches!(manager.queue::<u8>(None)?.try_get(), Err(Error::Empty)));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn try_get(&self) -> Result<T, Error> {
        self.get_within(Some(Duration::ZERO))
    }

    /// Takes the front value, waiting at most `timeout`; [`Error::Empty`] if none came.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_managers::Error;
    ///
    /// let manager = mp_managers::Manager::start()?;
    /// let queue = manager.queue::<u8>(None)?;
    /// assert!(matches!(queue.get_timeout(Duration::from_millis(1)), Err(Error::Empty)));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.get_within(bounded(timeout))
    }

    /// How many values wait in the queue (Python's `qsize()`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let queue = manager.queue::<u8>(None)?;
    /// queue.put(&1)?;
    /// assert_eq!(queue.qsize()?, 1);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn qsize(&self) -> Result<usize, Error> {
        match self.link.call(Request::QueueLen { id: self.id })? {
            Reply::Len(len) => Ok(usize::try_from(len).unwrap_or(usize::MAX)),
            other => Err(unexpected(&other)),
        }
    }
}
