//! [`List`]: the proxy of a list held by a manager's server.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::link::{Link, decode, encode, unexpected};
use crate::protocol::{Reply, Request};

/// A proxy of a list on a manager's server (Python's `manager.list()`). Clone it, or
/// pass it to a child process or a pool task: every copy reaches the same list.
///
/// ```
/// use mp_managers::{List, Manager};
/// use mp_processes::Process;
///
/// fn report(list: List<String>, name: String) -> Result<(), String> {
///     list.append(&name).map_err(|e| e.to_string())
/// }
///
/// let manager = Manager::start()?;
/// let list = manager.list::<String>()?;
/// Process::new(report, (list.clone(), "child".to_owned())).start()?.join()?.unwrap();
/// assert_eq!(list.to_vec()?, ["child"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct List<T> {
    link: Link,
    id: u64,
    #[serde(skip)]
    types: PhantomData<fn() -> T>,
}

impl<T> Clone for List<T> {
    fn clone(&self) -> Self {
        List {
            link: self.link.clone(),
            id: self.id,
            types: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for List<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("List")
            .field("server", &self.link)
            .field("id", &self.id)
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> List<T> {
    pub(crate) fn new(link: Link, id: u64) -> Self {
        List {
            link,
            id,
            types: PhantomData,
        }
    }

    fn done(&self, request: Request) -> Result<(), Error> {
        match self.link.call(request)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    fn value(&self, request: Request) -> Result<Option<T>, Error> {
        match self.link.call(request)? {
            Reply::Value(bytes) => bytes.as_deref().map(decode).transpose(),
            other => Err(unexpected(&other)),
        }
    }

    /// Adds `value` at the end (Python's `l.append(v)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let list = manager.list::<u8>()?;
    /// list.append(&1)?;
    /// assert_eq!(list.to_vec()?, [1]);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn append(&self, value: &T) -> Result<(), Error> {
        self.done(Request::ListPush {
            id: self.id,
            value: encode(value)?,
        })
    }

    /// Removes and returns the last value, `None` if the list is empty (Python's
    /// `l.pop()`, without its `IndexError`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let list = manager.list::<u8>()?;
    /// list.append(&1)?;
    /// assert_eq!(list.pop()?, Some(1));
    /// assert_eq!(list.pop()?, None);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn pop(&self) -> Result<Option<T>, Error> {
        self.value(Request::ListPop { id: self.id })
    }

    /// The value at `index` (Python's `l[i]`); past the end fails with
    /// [`Refusal::IndexOutOfRange`](crate::Refusal::IndexOutOfRange).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let list = manager.list::<u8>()?;
    /// list.append(&4)?;
    /// assert_eq!(list.get(0)?, 4);
    /// assert!(list.get(1).is_err());
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<T, Error> {
        let request = Request::ListGet {
            id: self.id,
            index: index as u64,
        };
        self.value(request)?
            .ok_or_else(|| unexpected(&Reply::Value(None)))
    }

    /// Replaces the value at `index` (Python's `l[i] = v`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let list = manager.list::<u8>()?;
    /// list.append(&4)?;
    /// list.set(0, &5)?;
    /// assert_eq!(list.get(0)?, 5);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: &T) -> Result<(), Error> {
        self.done(Request::ListSet {
            id: self.id,
            index: index as u64,
            value: encode(value)?,
        })
    }

    /// How many values the list has (Python's `len(l)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert_eq!(manager.list::<u8>()?.len()?, 0);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn len(&self) -> Result<usize, Error> {
        match self.link.call(Request::ListLen { id: self.id })? {
            Reply::Len(len) => Ok(usize::try_from(len).unwrap_or(usize::MAX)),
            other => Err(unexpected(&other)),
        }
    }

    /// Whether the list is empty.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert!(manager.list::<u8>()?.is_empty()?);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }

    /// A copy of the whole list (Python's `list(l)`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let list = manager.list::<u8>()?;
    /// list.append(&1)?;
    /// list.append(&2)?;
    /// assert_eq!(list.to_vec()?, [1, 2]);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<T>, Error> {
        match self.link.call(Request::ListItems { id: self.id })? {
            Reply::Items(items) => items.iter().map(|bytes| decode(bytes)).collect(),
            other => Err(unexpected(&other)),
        }
    }
}
