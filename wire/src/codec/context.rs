//! The side table of descriptors that [`encode`](super::encode) and
//! [`decode`](super::decode) hold for the handles being (de)serialized on this thread.
//!
//! Serde gives a `Serialize` impl no way to pass anything but bytes to its caller, so the
//! table lives in a thread-local stack of frames, one per `encode`/`decode` in progress
//! (a handle's impl could itself call `encode`).

use std::cell::RefCell;
use std::os::fd::OwnedFd;

use crate::{DecodeFault, Error};

pub(super) enum Table {
    /// Descriptors collected while serializing, in index order.
    Encoding(Vec<OwnedFd>),
    /// Descriptors to hand out while deserializing; `None` once claimed.
    Decoding(Vec<Option<OwnedFd>>),
}

struct Frame {
    table: Table,
    /// The first precise error a handle reported, which postcard's own error would hide.
    failure: Option<Error>,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// One `encode` or `decode` in progress; its frame is popped when it ends, on unwinding too.
pub(super) struct Scope {
    active: bool,
}

impl Scope {
    pub(super) fn enter(table: Table) -> Self {
        let active = FRAMES
            .try_with(|frames| {
                frames.borrow_mut().push(Frame {
                    table,
                    failure: None,
                })
            })
            .is_ok();
        Self { active }
    }

    /// Pops the frame: the table as the handles left it, and the first error one reported.
    pub(super) fn leave(mut self) -> (Table, Option<Error>) {
        self.active = false;
        let frame = FRAMES
            .try_with(|frames| frames.borrow_mut().pop())
            .ok()
            .flatten();
        match frame {
            Some(frame) => (frame.table, frame.failure),
            None => (Table::Encoding(Vec::new()), None),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.active {
            let _ = FRAMES.try_with(|frames| frames.borrow_mut().pop());
        }
    }
}

const OUTSIDE: &str = "a handle that owns a file descriptor can only be serialized by \
     mp_wire::encode (also mp_shared_mem::transfer::encode), which carries the descriptor \
     beside the bytes (not by a serializer called directly)";

/// Moves `fd` into the innermost encoding table; its index there.
pub(super) fn push_fd(fd: OwnedFd) -> Result<u32, String> {
    FRAMES
        .try_with(|frames| match frames.borrow_mut().last_mut() {
            Some(Frame {
                table: Table::Encoding(fds),
                ..
            }) => {
                let index = u32::try_from(fds.len())
                    .map_err(|_| "too many file descriptors in one value".to_string())?;
                fds.push(fd);
                Ok(index)
            }
            _ => Err(OUTSIDE.to_string()),
        })
        .unwrap_or_else(|_| Err(OUTSIDE.to_string()))
}

/// Takes descriptor `index` out of the innermost decoding table.
pub(super) fn take_fd(index: u32) -> Result<OwnedFd, DecodeFault> {
    FRAMES
        .try_with(|frames| match frames.borrow_mut().last_mut() {
            Some(Frame {
                table: Table::Decoding(fds),
                ..
            }) => {
                let received = fds.len();
                match fds.get_mut(index as usize) {
                    None => Err(DecodeFault::MissingFd { index, received }),
                    Some(slot) => slot.take().ok_or(DecodeFault::FdClaimedTwice { index }),
                }
            }
            _ => Err(DecodeFault::NoSideTable),
        })
        .unwrap_or(Err(DecodeFault::NoSideTable))
}

/// Records the first precise error of the innermost `encode`/`decode`, if any.
pub(super) fn record_failure(error: Error) {
    let _ = FRAMES.try_with(|frames| {
        if let Some(frame) = frames.borrow_mut().last_mut() {
            frame.failure.get_or_insert(error);
        }
    });
}
