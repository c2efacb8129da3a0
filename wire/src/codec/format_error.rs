//! The one error type the postcard reader and writer give serde, so that a handle's custom
//! error and a malformed message both reach [`encode`](super::encode) and
//! [`decode`](super::decode) as text they turn into this crate's [`Error`](crate::Error).

use std::fmt::Display;

/// Why a value could not be written or read in postcard's format.
///
/// One pointer wide, so that the `Result`s of every scalar read and write stay small. A
/// slice that is full allocates nothing: a queue's put at a full ring meets it at every try.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
#[expect(
    clippy::box_collection,
    reason = "a thin pointer: Box<str> would double the size of every Result"
)]
pub(crate) struct FormatError(Option<Box<String>>);

impl FormatError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        FormatError(Some(Box::new(message.into())))
    }

    /// The output slice has no room for the rest of the value.
    pub(crate) const fn slice_full() -> Self {
        FormatError(None)
    }

    fn message(&self) -> &str {
        self.0
            .as_deref()
            .map_or("the value does not fit in the buffer", String::as_str)
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
