//! The one error type the postcard reader and writer give serde, so that a handle's custom
//! error and a malformed message both reach [`encode`](super::encode) and
//! [`decode`](super::decode) as text they turn into this crate's [`Error`](crate::Error).

use std::fmt::Display;

/// Why a value could not be written or read in postcard's format.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FormatError(pub(crate) String);

impl serde::ser::Error for FormatError {
    fn custom<T: Display>(msg: T) -> Self {
        FormatError(msg.to_string())
    }
}

impl serde::de::Error for FormatError {
    fn custom<T: Display>(msg: T) -> Self {
        FormatError(msg.to_string())
    }
}
