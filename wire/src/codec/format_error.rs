//! The one error type the postcard reader and writer give serde, so that a handle's custom
//! error and a malformed message both reach [`encode`](super::encode) and
//! [`decode`](super::decode) as text they turn into this crate's [`Error`](crate::Error).

use std::fmt::Display;

/// Why a value could not be written or read in postcard's format.
///
/// One pointer wide, so that the `Result`s of every scalar read and write stay small.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
#[expect(
    clippy::box_collection,
    reason = "a thin pointer: Box<str> would double the size of every Result"
)]
pub(crate) struct FormatError(Box<String>);

impl FormatError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        FormatError(Box::new(message.into()))
    }
}

impl serde::ser::Error for FormatError {
    fn custom<T: Display>(msg: T) -> Self {
        FormatError::new(msg.to_string())
    }
}

impl serde::de::Error for FormatError {
    fn custom<T: Display>(msg: T) -> Self {
        FormatError::new(msg.to_string())
    }
}
