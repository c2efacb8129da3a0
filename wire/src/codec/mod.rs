//! The encoder: postcard bytes, with the descriptors of the handles in a value moved to a
//! side table beside them.
//!
//! Serde can carry a handle's state but not its descriptor: a descriptor number means
//! nothing in another process. So [`encode`] serializes in postcard's format while each
//! handle's `Serialize` calls [`serialize_fd`], which duplicates its descriptor into the
//! side table and writes only the table index into the bytes; [`decode`] deserializes with the
//! received descriptors as the side table, and each handle's `Deserialize` takes its
//! descriptor back with [`deserialize_fd`]. Serializing a handle with any other serializer
//! fails with a serde error that says so, never a panic.
//!
//! # Writing a handle type
//!
//! Serialize the descriptor with [`serialize_fd`] (or the [`Fd`] wrapper) and take it
//! back with [`deserialize_fd`] (or [`ReceivedFd`]); report a descriptor that does not
//! fit with [`reject`] or [`reject_error`], so that [`decode`] returns your reason
//! (postcard alone would lose it):
//!
//! ```
//! use std::os::fd::{AsFd, OwnedFd};
//! use serde::{Deserialize, Deserializer, Serialize, Serializer};
//!
//! struct Pipe {
//!     fd: OwnedFd,
//!     capacity: u32,
//! }
//!
//! impl Serialize for Pipe {
//!     fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
//!         (mp_wire::Fd(self.fd.as_fd()), self.capacity).serialize(serializer)
//!     }
//! }
//!
//! impl<'de> Deserialize<'de> for Pipe {
//!     fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
//!         let (fd, capacity): (mp_wire::ReceivedFd, u32) = Deserialize::deserialize(deserializer)?;
//!         if capacity == 0 {
//!             return Err(mp_wire::reject("a pipe of capacity 0"));
//!         }
//!         Ok(Pipe { fd: fd.into_inner(), capacity })
//!     }
//! }
//!
//! let (reader, _writer) = std::io::pipe().unwrap();
//! let (bytes, fds) = mp_wire::encode(&Pipe { fd: reader.into(), capacity: 4096 })?;
//! assert_eq!(fds.len(), 1);
//! let back: Pipe = mp_wire::decode(&bytes, fds)?;
//! assert_eq!(back.capacity, 4096);
//! # Ok::<(), mp_wire::Error>(())
//! ```

mod context;
mod fd;
mod format_error;
mod reader;
mod same_type;
mod writer;

pub use fd::{Fd, ReceivedFd, deserialize_fd, reject, reject_error, serialize_fd};

use std::os::fd::OwnedFd;

use serde::Serialize;
use serde::de::DeserializeOwned;

use std::any::type_name;

use crate::{DecodeFault, EncodeFault, Error};
use context::{Scope, Table};
use format_error::FormatError;
use reader::PostcardReader;
use writer::{PostcardWriter, SliceOutput};

/// Serializes `value` to postcard bytes, moving (duplicates of) the descriptors of the
/// handles in it into the returned list, in the order the bytes refer to them.
///
/// The descriptors are `O_CLOEXEC` duplicates owned by the caller; the value keeps its own.
/// Fails with [`Error::Encode`], or with the error a handle reported (such as
/// [`Error::Os`] with `EMFILE` when the process is out of descriptors).
///
/// ```
/// let (bytes, fds) = mp_wire::encode(&(1u8, "two"))?;
/// assert!(fds.is_empty());
/// let back: (u8, String) = mp_wire::decode(&bytes, fds)?;
/// assert_eq!(back, (1, "two".to_string()));
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    let mut bytes = Vec::new();
    let fds = encode_with(value, &mut bytes)?;
    tracing::trace!(bytes = bytes.len(), fds = fds.len(), "encoded");
    Ok((bytes, fds))
}

/// Where [`encode_to`] puts the bytes of a value as the encoder produces them: many small
/// pieces, and each vector or slice of bytes or floats as one piece of its own size.
///
/// A sink decides where the bytes go without their first being gathered in one buffer
/// (a large value can go straight to a file, say). `Vec<u8>` is the sink of [`encode`].
///
/// ```
/// struct Counter(usize);
///
/// impl mp_wire::Sink for Counter {
///     fn put(&mut self, bytes: &[u8]) -> Result<(), mp_wire::Error> {
///         self.0 += bytes.len();
///         Ok(())
///     }
/// }
///
/// let mut counter = Counter(0);
/// mp_wire::encode_to(&vec![0u8; 1000], &mut counter)?;
/// assert_eq!(counter.0, mp_wire::encode(&vec![0u8; 1000])?.0.len());
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub trait Sink {
    /// Appends `bytes`; an error stops the encoding and is what [`encode_to`] returns.
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error>;

    /// Appends one byte (by default, through [`put`](Sink::put)).
    ///
    /// ```
    /// use mp_wire::Sink;
    ///
    /// let mut bytes = Vec::new();
    /// bytes.put_byte(7)?;
    /// assert_eq!(bytes, [7]);
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    fn put_byte(&mut self, byte: u8) -> Result<(), Error> {
        self.put(&[byte])
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        mp_sys::copy::extend_bytes(self, bytes);
        Ok(())
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) -> Result<(), Error> {
        self.push(byte);
        Ok(())
    }
}

/// [`encode`], with the bytes going to `sink` as they are produced instead of into one
/// returned vector; the descriptors are returned as by [`encode`]. Fails as [`encode`]
/// does, or with the first error of the sink (what was put before it stays put).
///
/// ```
/// let mut bytes = Vec::new();
/// let fds = mp_wire::encode_to(&(1u8, "two"), &mut bytes)?;
/// assert!(fds.is_empty());
/// assert_eq!(mp_wire::decode::<(u8, String)>(&bytes, fds)?, (1, "two".to_string()));
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn encode_to<T: Serialize + ?Sized, S: Sink>(
    value: &T,
    sink: &mut S,
) -> Result<Vec<OwnedFd>, Error> {
    let mut output = SinkOutput {
        sink,
        failure: None,
    };
    let result = encode_with(value, &mut output);
    match output.failure {
        Some(failure) => Err(failure),
        None => result,
    }
}

/// The [`Output`](writer::Output) of [`encode_to`]: the sink, and its first error.
struct SinkOutput<'a, S> {
    sink: &'a mut S,
    failure: Option<Error>,
}

impl<S: Sink> SinkOutput<'_, S> {
    fn failed(&mut self, error: Error) -> FormatError {
        let message = FormatError::new(error.to_string());
        self.failure.get_or_insert(error);
        message
    }
}

impl<S: Sink> writer::Output for SinkOutput<'_, S> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        self.sink.put(bytes).map_err(|error| self.failed(error))
    }

    #[inline]
    fn put_byte(&mut self, byte: u8) -> Result<(), FormatError> {
        self.sink.put_byte(byte).map_err(|error| self.failed(error))
    }
}

/// Serializes `value` into `out` with a side table for its descriptors.
fn encode_with<T: Serialize + ?Sized, O: writer::Output>(
    value: &T,
    out: &mut O,
) -> Result<Vec<OwnedFd>, Error> {
    let scope = Scope::enter(Table::Encoding(Vec::new()));
    let result = value.serialize(&mut PostcardWriter::new(out));
    let (table, failure) = scope.leave();
    match (result, table) {
        (Ok(()), Table::Encoding(fds)) => Ok(fds),
        (Ok(()), Table::Decoding(_)) => Err(Error::Encode {
            type_name: type_name::<T>(),
            fault: EncodeFault::SideTableLost,
        }),
        (Err(err), _) => Err(match failure {
            Some(failure) => failure.for_type(type_name::<T>()),
            None => unserializable::<T>(err),
        }),
    }
}

/// Deserializes a `T` from bytes made by [`encode`], giving the handles in it the
/// descriptors in `fds` (as received, or inherited).
///
/// Every descriptor must be claimed exactly once by a handle; leftovers (a message that
/// does not match its type) are closed and reported as [`Error::Decode`]. So are trailing
/// bytes. A handle that cannot use its descriptor reports its own error
/// ([`Error::Rejected`], or [`Error::Decode`] with its reason).
///
/// ```
/// use mp_wire::Error;
///
/// let (bytes, fds) = mp_wire::encode(&7u32)?;
/// assert!(matches!(mp_wire::decode::<String>(&bytes, fds), Err(Error::Decode { .. })));
/// # Ok::<(), Error>(())
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8], fds: Vec<OwnedFd>) -> Result<T, Error> {
    let scope = Scope::enter(Table::Decoding(fds.into_iter().map(Some).collect()));
    let mut reader = PostcardReader::new(bytes);
    let result = T::deserialize(&mut reader).map(|value| (value, reader.rest()));
    let (table, failure) = scope.leave();
    let (value, rest) = match result {
        Ok(decoded) => decoded,
        Err(err) => {
            return Err(match failure {
                Some(failure) => failure.for_type(type_name::<T>()),
                None => malformed::<T>(err),
            });
        }
    };
    if !rest.is_empty() {
        return Err(decode_fault::<T>(DecodeFault::TrailingBytes {
            left: rest.len(),
        }));
    }
    let unclaimed = match &table {
        Table::Decoding(fds) => fds.iter().filter(|fd| fd.is_some()).count(),
        Table::Encoding(_) => 0,
    };
    if unclaimed > 0 {
        return Err(decode_fault::<T>(DecodeFault::UnclaimedFds {
            count: unclaimed,
        }));
    }
    Ok(value)
}

/// Appends the postcard bytes of `value` to `buffer`, for a channel that carries bytes only
/// (a value holding a handle fails with [`Error::Encode`]: there is no side table for its
/// descriptor; what was appended before the failure stays in `buffer`). Reusing one
/// buffer across messages saves an allocation per message.
///
/// ```
/// let mut buffer = Vec::new();
/// mp_wire::encode_bytes_into(&vec![1.5f64, 2.5], &mut buffer)?;
/// assert_eq!(mp_wire::decode_bytes::<Vec<f64>>(&buffer)?, [1.5, 2.5]);
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn encode_bytes_into<T: Serialize + ?Sized>(
    value: &T,
    buffer: &mut Vec<u8>,
) -> Result<(), Error> {
    value
        .serialize(&mut PostcardWriter::new(buffer))
        .map_err(unserializable::<T>)
}

/// Writes the postcard bytes of `value` to the start of `slice` and returns how many there
/// are, or `Ok(None)` if they do not fit (what fitted is left in `slice`). Like
/// [`encode_bytes_into`], for a channel that carries bytes only.
///
/// ```
/// let mut slice = [0u8; 8];
/// assert_eq!(mp_wire::encode_bytes_into_slice(&(7u8, "hi"), &mut slice)?, Some(4));
/// assert_eq!(mp_wire::encode_bytes_into_slice(&vec![0u8; 100], &mut slice)?, None);
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn encode_bytes_into_slice<T: Serialize + ?Sized>(
    value: &T,
    slice: &mut [u8],
) -> Result<Option<usize>, Error> {
    let mut writer = PostcardWriter::new(SliceOutput {
        slice,
        written: 0,
        overflowed: false,
    });
    let result = value.serialize(&mut writer);
    let output = writer.into_output();
    match result {
        Ok(()) => Ok(Some(output.written)),
        Err(_) if output.overflowed => Ok(None),
        Err(err) => Err(unserializable::<T>(err)),
    }
}

/// Deserializes a `T` from bytes made by [`encode_bytes_into`] (or [`encode`] of a value
/// with no handles), which it must use up: trailing bytes are an [`Error::Decode`].
///
/// ```
/// let mut buffer = Vec::new();
/// mp_wire::encode_bytes_into(&(3u32, String::from("three")), &mut buffer)?;
/// let back: (u32, String) = mp_wire::decode_bytes(&buffer)?;
/// assert_eq!(back, (3, "three".to_string()));
/// assert!(mp_wire::decode_bytes::<u8>(&buffer).is_err());
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn decode_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let mut reader = PostcardReader::new(bytes);
    let value = T::deserialize(&mut reader).map_err(malformed::<T>)?;
    match reader.rest().len() {
        0 => Ok(value),
        left => Err(decode_fault::<T>(DecodeFault::TrailingBytes { left })),
    }
}

/// [`Error::Encode`] of a `T`, with serde's message.
fn unserializable<T: ?Sized>(err: impl std::fmt::Display) -> Error {
    Error::Encode {
        type_name: type_name::<T>(),
        fault: EncodeFault::Unserializable {
            detail: err.to_string(),
        },
    }
}

/// [`Error::Decode`] of a `T`, with serde's message.
fn malformed<T>(err: impl std::fmt::Display) -> Error {
    decode_fault::<T>(DecodeFault::Malformed {
        detail: err.to_string(),
    })
}

fn decode_fault<T>(fault: DecodeFault) -> Error {
    Error::Decode {
        type_name: type_name::<T>(),
        fault,
    }
}
