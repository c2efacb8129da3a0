//! [`Dict`]: the proxy of a dict held by a manager's server.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::link::{Link, decode, encode, unexpected};
use crate::protocol::{Reply, Request};

/// A proxy of a dict on a manager's server (Python's `manager.dict()`). Clone it, or
/// pass it to a child process or a pool task as an argument: every copy reaches the
/// same dict.
///
/// Each call is one round trip to the server. `get` then `set` from several processes
/// loses updates (as `d[k] += 1` does in Python); [`update`](Self::update) does not.
///
/// ```
/// use mp_managers::Manager;
/// use mp_processes::Process;
///
/// fn count(dict: mp_managers::Dict<String, u64>) -> Result<(), String> {
///     dict.update(&"hits".into(), |n| n.unwrap_or(0) + 1).map_err(|e| e.to_string())
/// }
///
/// let manager = Manager::start()?;
/// let dict = manager.dict::<String, u64>()?;
/// Process::new(count, (dict.clone(),)).start()?.join()?.unwrap();
/// assert_eq!(dict.get(&"hits".into())?, Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Dict<K, V> {
    link: Link,
    id: u64,
    #[serde(skip)]
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for Dict<K, V> {
    fn clone(&self) -> Self {
        Dict {
            link: self.link.clone(),
            id: self.id,
            types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dict")
            .field("server", &self.link)
            .field("id", &self.id)
            .finish()
    }
}

impl<K, V> Dict<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    pub(crate) fn new(link: Link, id: u64) -> Self {
        Dict {
            link,
            id,
            types: PhantomData,
        }
    }

    fn value(&self, request: Request) -> Result<Option<V>, Error> {
        match self.link.call(request)? {
            Reply::Value(bytes) => bytes.as_deref().map(decode).transpose(),
            other => Err(unexpected(&other)),
        }
    }

    /// The value of `key`, or `None` (Python's `d.get(k)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let dict = manager.dict::<u8, u8>()?;
    /// assert_eq!(dict.get(&1)?, None);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn get(&self, key: &K) -> Result<Option<V>, Error> {
        self.value(Request::DictGet {
            id: self.id,
            key: encode(key)?,
        })
    }

    /// Sets `key` to `value` (Python's `d[k] = v`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let dict = manager.dict::<u8, u8>()?;
    /// dict.set(&1, &10)?;
    /// assert_eq!(dict.get(&1)?, Some(10));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn set(&self, key: &K, value: &V) -> Result<(), Error> {
        let request = Request::DictSet {
            id: self.id,
            key: encode(key)?,
            value: encode(value)?,
        };
        match self.link.call(request)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Removes `key` and returns its value, if it had one (Python's `d.pop(k, None)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let dict = manager.dict::<u8, u8>()?;
    /// dict.set(&1, &10)?;
    /// assert_eq!(dict.remove(&1)?, Some(10));
    /// assert_eq!(dict.remove(&1)?, None);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn remove(&self, key: &K) -> Result<Option<V>, Error> {
        self.value(Request::DictRemove {
            id: self.id,
            key: encode(key)?,
        })
    }

    /// Sets `key` to `change(current value)` atomically: the server holds the dict
    /// locked from reading the value to storing the new one, so concurrent updates from
    /// any number of processes lose nothing (Python has no such call).
    ///
    /// `change` runs in the calling process (it may capture). If it panics, or the
    /// caller dies meanwhile, the connection closes and the server releases the dict
    /// unchanged. Other calls on this dict wait while it runs: keep it short.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let dict = manager.dict::<String, u64>()?;
    /// dict.update(&"n".into(), |n| n.unwrap_or(0) + 5)?;
    /// dict.update(&"n".into(), |n| n.unwrap_or(0) * 2)?;
    /// assert_eq!(dict.get(&"n".into())?, Some(10));
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn update(&self, key: &K, change: impl FnOnce(Option<V>) -> V) -> Result<(), Error> {
        self.try_update(key, |current| Ok(change(current)))
    }

    /// [`update`](Self::update) with a change that may fail: on its error the dict is
    /// left unchanged and the error returned.
    pub(crate) fn try_update(
        &self,
        key: &K,
        change: impl FnOnce(Option<V>) -> Result<V, Error>,
    ) -> Result<(), Error> {
        self.link.update(self.id, encode(key)?, |current| {
            let current = current.as_deref().map(decode).transpose()?;
            encode(&change(current)?)
        })
    }

    /// How many keys the dict has (Python's `len(d)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let dict = manager.dict::<u8, u8>()?;
    /// dict.set(&1, &1)?;
    /// assert_eq!(dict.len()?, 1);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize, Error> {
        match self.link.call(Request::DictLen { id: self.id })? {
            Reply::Len(len) => Ok(usize::try_from(len).unwrap_or(usize::MAX)),
            other => Err(unexpected(&other)),
        }
    }

    /// Whether the dict has no keys.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert!(manager.dict::<u8, u8>()?.is_empty()?);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// A copy of every key and value, in no particular order (Python's `d.items()`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let dict = manager.dict::<u8, u8>()?;
    /// dict.set(&1, &2)?;
    /// assert_eq!(dict.items()?, [(1, 2)]);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn items(&self) -> Result<Vec<(K, V)>, Error> {
        match self.link.call(Request::DictItems { id: self.id })? {
            Reply::Pairs(pairs) => pairs
                .iter()
                .map(|(key, value)| Ok((decode(key)?, decode(value)?)))
                .collect(),
            other => Err(unexpected(&other)),
        }
    }
}
