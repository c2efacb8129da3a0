//! The serde side of a handle: its descriptor goes to the side table, its index to the
//! bytes.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::context;
use crate::{DecodeFault, Error};

/// Serializes a descriptor with the side table: a duplicate goes into the side table of the
/// [`encode`](super::encode) in progress, and its index into the bytes. Fits
/// `#[serde(serialize_with = "mp_wire::serialize_fd")]` on an `OwnedFd`
/// field.
///
/// Outside `encode` it fails with a serde error saying so.
///
/// ```
/// use std::os::fd::OwnedFd;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Handle {
///     #[serde(
///         serialize_with = "mp_wire::serialize_fd",
///         deserialize_with = "mp_wire::deserialize_fd"
///     )]
///     fd: OwnedFd,
///     label: String,
/// }
///
/// let fd = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
/// let (bytes, fds) = mp_wire::encode(&Handle { fd, label: "null".into() })?;
/// let back: Handle = mp_wire::decode(&bytes, fds)?;
/// assert_eq!(back.label, "null");
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn serialize_fd<F, S>(fd: &F, serializer: S) -> Result<S::Ok, S::Error>
where
    F: AsFd + ?Sized,
    S: Serializer,
{
    let duplicate = match fd.as_fd().try_clone_to_owned() {
        Ok(duplicate) => duplicate,
        Err(err) => {
            let errno = nix::errno::Errno::from_raw(err.raw_os_error().unwrap_or(libc::EBADF));
            context::record_failure(Error::os("fcntl(F_DUPFD_CLOEXEC)", errno));
            return Err(S::Error::custom(format_args!(
                "cannot duplicate a file descriptor: {err}"
            )));
        }
    };
    let index = context::push_fd(duplicate).map_err(S::Error::custom)?;
    serializer.serialize_u32(index)
}

/// Deserializes a descriptor with the side table: reads its index and takes it from the side
/// table of the [`decode`](super::decode) in progress. The descriptor is `O_CLOEXEC` if
/// it came through [`recv`](crate::recv). Fits `#[serde(deserialize_with = ...)]` (see
/// [`serialize_fd`]).
///
/// Outside `decode`, or for an index with no descriptor, it fails with a serde error.
///
/// ```
/// use std::os::fd::OwnedFd;
///
/// let file = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
/// let (bytes, fds) = mp_wire::encode(&mp_wire::Fd(std::os::fd::AsFd::as_fd(&file)))?;
/// let received: mp_wire::ReceivedFd = mp_wire::decode(&bytes, fds)?;
/// let _fd: OwnedFd = received.into_inner();
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn deserialize_fd<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OwnedFd, D::Error> {
    let index = u32::deserialize(deserializer)?;
    context::take_fd(index).map_err(|fault| {
        let message = fault.to_string();
        context::record_failure(Error::Decode {
            type_name: "",
            fault,
        });
        <D::Error as serde::de::Error>::custom(message)
    })
}

/// A borrowed descriptor that serializes with the side table (see [`serialize_fd`]).
///
/// ```
/// use std::os::fd::AsFd;
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let (_bytes, fds) = mp_wire::encode(&mp_wire::Fd(file.as_fd()))?;
/// assert_eq!(fds.len(), 1);
/// # Ok::<(), mp_wire::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Fd<'a>(pub BorrowedFd<'a>);

impl Serialize for Fd<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_fd(&self.0, serializer)
    }
}

/// A descriptor that deserializes with the side table (see [`deserialize_fd`]).
///
/// ```
/// use std::os::fd::AsFd;
/// use mp_wire::{Fd, ReceivedFd};
///
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let (bytes, fds) = mp_wire::encode(&Fd(file.as_fd()))?;
/// let received: ReceivedFd = mp_wire::decode(&bytes, fds)?;
/// assert!(received.as_fd().try_clone_to_owned().is_ok());
/// # Ok::<(), mp_wire::Error>(())
/// ```
#[derive(Debug)]
pub struct ReceivedFd(OwnedFd);

impl ReceivedFd {
    /// The descriptor.
    ///
    /// ```
    /// use std::os::fd::{AsFd, OwnedFd};
    /// use mp_wire::{Fd, ReceivedFd};
    ///
    /// let file = std::fs::File::open("/dev/null").unwrap();
    /// let (bytes, fds) = mp_wire::encode(&Fd(file.as_fd()))?;
    /// let fd: OwnedFd = mp_wire::decode::<ReceivedFd>(&bytes, fds)?.into_inner();
    /// # drop(fd);
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn into_inner(self) -> OwnedFd {
        self.0
    }
}

impl AsFd for ReceivedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl<'de> Deserialize<'de> for ReceivedFd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_fd(deserializer).map(ReceivedFd)
    }
}

/// A deserialization error for a handle that cannot use what it received; [`decode`]
/// returns it as [`Error::Decode`] with this message (postcard's own error would only say
/// "custom error").
///
/// [`decode`]: super::decode
///
/// ```
/// use serde::{Deserialize, Deserializer};
///
/// struct Even(u32);
/// impl<'de> Deserialize<'de> for Even {
///     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
///         let n = u32::deserialize(d)?;
///         if n % 2 == 1 {
///             return Err(mp_wire::reject(format_args!("{n} is odd")));
///         }
///         Ok(Even(n))
///     }
/// }
///
/// let (bytes, fds) = mp_wire::encode(&3u32)?;
/// match mp_wire::decode::<Even>(&bytes, fds) {
///     Err(mp_wire::Error::Decode { fault: mp_wire::DecodeFault::Refused { detail }, .. }) => {
///         assert_eq!(detail, "3 is odd");
///     }
///     other => panic!("{:?}", other.err()),
/// }
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn reject<E: serde::de::Error>(reason: impl fmt::Display) -> E {
    let message = reason.to_string();
    context::record_failure(Error::Decode {
        type_name: "",
        fault: DecodeFault::Refused {
            detail: message.clone(),
        },
    });
    E::custom(message)
}

/// As [`reject`], with the handle's own error: [`decode`](super::decode) returns it as
/// [`Error::Rejected`], and the handle's crate takes it back with [`Error::rejection`].
///
/// ```
/// use serde::{Deserialize, Deserializer};
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("{0} is odd")]
/// struct Odd(u32);
///
/// struct Even(u32);
/// impl<'de> Deserialize<'de> for Even {
///     fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
///         let n = u32::deserialize(d)?;
///         if n % 2 == 1 {
///             return Err(mp_wire::reject_error(Odd(n)));
///         }
///         Ok(Even(n))
///     }
/// }
///
/// let (bytes, fds) = mp_wire::encode(&3u32)?;
/// let err = mp_wire::decode::<Even>(&bytes, fds).err().unwrap();
/// assert_eq!(err.to_string(), "3 is odd");
/// assert_eq!(err.rejection::<Odd>().map(|odd| odd.0), Some(3));
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn reject_error<E, D>(error: E) -> D
where
    E: std::error::Error + Send + Sync + 'static,
    D: serde::de::Error,
{
    let message = error.to_string();
    context::record_failure(Error::Rejected {
        type_name: "",
        cause: std::sync::Arc::new(error),
    });
    D::custom(message)
}
