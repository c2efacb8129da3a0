//! [`Value`]: one shared value of a serde type on a manager's server.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Dict, Error};

/// A proxy of one value on a manager's server: Python's `manager.Namespace()` for a
/// serde struct (its fields are the namespace's attributes) or `manager.Value(...)`.
/// Clone it or pass it to a child process like any proxy.
///
/// It is a dict with one entry, held by the server as a dict.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
/// struct Settings {
///     rounds: u32,
///     label: String,
/// }
///
/// let manager = mp_managers::Manager::start()?;
/// let settings = manager.value(&Settings { rounds: 1, label: "a".into() })?;
/// settings.update(|mut s| {
///     s.rounds += 1;
///     s
/// })?;
/// assert_eq!(settings.get()?.rounds, 2);
/// # Ok::<(), mp_managers::Error>(())
/// ```
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Value<T> {
    entry: Dict<(), T>,
}

impl<T> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            entry: self.entry.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value").field("entry", &self.entry).finish()
    }
}

impl<T: Serialize + DeserializeOwned> Value<T> {
    pub(crate) fn new(entry: Dict<(), T>) -> Self {
        Value { entry }
    }

    /// A copy of the value (Python's `ns.x` for each attribute at once).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// assert_eq!(manager.value(&5u8)?.get()?, 5);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn get(&self) -> Result<T, Error> {
        self.entry
            .get(&())?
            .ok_or(Error::Refused(crate::Refusal::Protocol {
                fault: crate::ProtocolFault::ValueWithoutEntry,
            }))
    }

    /// Replaces the value (Python's `ns.x = v`).
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let value = manager.value(&5u8)?;
    /// value.set(&6)?;
    /// assert_eq!(value.get()?, 6);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn set(&self, value: &T) -> Result<(), Error> {
        self.entry.set(&(), value)
    }

    /// Replaces the value with `change(value)` atomically, as [`Dict::update`] does.
    ///
    /// ```
    /// let manager = mp_managers::Manager::start()?;
    /// let value = manager.value(&5u64)?;
    /// value.update(|v| v * 3)?;
    /// assert_eq!(value.get()?, 15);
    /// # Ok::<(), mp_managers::Error>(())
    /// ```
    pub fn update(&self, change: impl FnOnce(T) -> T) -> Result<(), Error> {
        self.entry.try_update(&(), |current| match current {
            Some(current) => Ok(change(current)),
            None => Err(Error::Refused(crate::Refusal::Protocol {
                fault: crate::ProtocolFault::ValueWithoutEntry,
            })),
        })
    }
}
