//! [`Record`]: what the parent knows about one child, shared by its
//! [`ProcessHandle`](crate::ProcessHandle) and the table of children, so that a child
//! whose handle was dropped is still reaped. Reading the child's report and reaping it
//! live here, apart from the public handle.

use mp_sys::process::current_pid;
use mp_sys::{Deadline, poll};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::error::signal_name;
use crate::error::{Error, ProtocolFault};
use crate::payload::{self, Payload};
use crate::sentinel::Sentinel;
use crate::start_method::StartMethod;
use crate::wire::{ExitStatus, MAX_MESSAGE_LEN, Outcome, Tag};

/// `exitcode` not known yet.
const UNKNOWN: i64 = i64::MIN;

/// What the parent knows about one child. Shared by its handle and the list of
/// children, so a child whose handle was dropped is still reaped.
pub(crate) struct Record {
    /// The process that started the child: the only one that may read its socket and
    /// reap it.
    owner: i32,
    pub(crate) pid: i32,
    pub(crate) name: String,
    pub(crate) daemon: bool,
    pub(crate) method: StartMethod,
    pub(crate) sentinel: Sentinel,
    /// The exit code once known, else [`UNKNOWN`]; readable without the lock.
    exitcode: AtomicI64,
    inner: Mutex<Inner>,
}

struct Inner {
    /// The parent's end of the child's socket, until everything was read from it.
    channel: Option<UnixStream>,
    outcome: Slot,
    /// `Some(None)`: the status is lost (the forkserver died, or someone else reaped).
    status: Option<Option<ExitStatus>>,
}

/// The child's report, kept as received until `join` decodes it as the right type.
enum Slot {
    Pending,
    Received(Payload, Vec<OwnedFd>),
    /// The child ended without a report.
    Missing,
    /// The report could not be read.
    Broken(Error),
    /// An earlier `join` took it.
    Taken,
}

impl Record {
    pub(crate) fn new(
        pid: i32,
        name: String,
        daemon: bool,
        method: StartMethod,
        pidfd: OwnedFd,
        channel: UnixStream,
    ) -> Self {
        Record {
            owner: current_pid(),
            pid,
            name,
            daemon,
            method,
            sentinel: Sentinel::new(pidfd),
            exitcode: AtomicI64::new(UNKNOWN),
            inner: Mutex::new(Inner {
                channel: Some(channel),
                outcome: Slot::Pending,
                status: None,
            }),
        }
    }

    pub(crate) fn exitcode(&self) -> Option<i32> {
        match self.exitcode.load(Ordering::Acquire) {
            UNKNOWN => None,
            code => i32::try_from(code).ok(),
        }
    }

    /// Whether the child has ended and everything about it is known (or lost).
    pub(crate) fn finished(&self) -> bool {
        self.exitcode().is_some()
            || self
                .inner
                .try_lock()
                .is_some_and(|inner| inner.status.is_some())
    }

    /// Reads what the child and, for the forkserver, the server send, and reaps a child
    /// of ours, until the outcome and the exit status are known or `deadline` passes.
    pub(crate) fn settle(&self, deadline: Deadline) -> Result<(), Error> {
        if !self.owned_here() {
            return Err(Error::NotParent {
                name: self.name.clone(),
            });
        }
        let mut inner = match deadline.instant() {
            None => self.inner.lock(),
            Some(at) => self.inner.try_lock_until(at).ok_or(Error::TimedOut)?,
        };
        self.settle_locked(&mut inner, deadline)
    }

    /// Whether this process started the child (not a forked copy of the handle).
    fn owned_here(&self) -> bool {
        current_pid() == self.owner
    }

    /// [`settle`](Record::settle) unless another thread holds the record (joining).
    pub(crate) fn settle_if_free(&self, deadline: Deadline) {
        if !self.owned_here() {
            return;
        }
        if let Some(mut inner) = self.inner.try_lock() {
            let _ = self.settle_locked(&mut inner, deadline);
        }
    }

    fn settle_locked(&self, inner: &mut Inner, deadline: Deadline) -> Result<(), Error> {
        while matches!(inner.outcome, Slot::Pending) {
            let Some(channel) = inner.channel.as_ref() else {
                inner.outcome = Slot::Missing;
                break;
            };
            if self.method == StartMethod::Forkserver {
                // The server keeps a copy of the child's end until it has reported the
                // exit status, so a frame always comes, or end-of-file if it died.
                let ready = poll::wait_readable(&[channel.as_fd()], deadline)
                    .map_err(|errno| Error::os("poll", errno))?;
                if !ready.first().copied().unwrap_or(false) {
                    return Err(Error::TimedOut);
                }
                read_frame(inner);
                continue;
            }
            let ready = poll::wait_readable(&[channel.as_fd(), self.sentinel.as_fd()], deadline)
                .map_err(|errno| Error::os("poll", errno))?;
            match (ready.first().copied(), ready.get(1).copied()) {
                (Some(true), _) => read_frame(inner),
                (_, Some(true)) => {
                    // The child has ended: what it wrote is in the socket already. A
                    // grandchild may still hold the child's end, so end-of-file is not
                    // to be waited for.
                    let written =
                        poll::is_readable(channel.as_fd(), Deadline::after(Duration::ZERO))
                            .map_err(|errno| Error::os("poll", errno))?;
                    if written {
                        read_frame(inner);
                    } else {
                        inner.outcome = Slot::Missing;
                    }
                }
                _ => return Err(Error::TimedOut),
            }
        }
        while inner.status.is_none() {
            if self.method == StartMethod::Forkserver {
                let Some(channel) = inner.channel.as_ref() else {
                    inner.status = Some(None);
                    break;
                };
                let ready = poll::wait_readable(&[channel.as_fd()], deadline)
                    .map_err(|errno| Error::os("poll", errno))?;
                if !ready.first().copied().unwrap_or(false) {
                    return Err(Error::TimedOut);
                }
                read_frame(inner);
                continue;
            }
            let ready = poll::wait_readable(&[self.sentinel.as_fd()], deadline)
                .map_err(|errno| Error::os("poll", errno))?;
            if !ready.first().copied().unwrap_or(false) {
                return Err(Error::TimedOut);
            }
            use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
            match waitid(
                Id::PIDFd(self.sentinel.as_fd()),
                WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
            ) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => inner.status = Some(ExitStatus::from_wait(status)),
                Err(nix::errno::Errno::EINTR) => {}
                // ECHILD: reaped by someone else (a `waitpid(-1)` of the program).
                Err(_) => inner.status = Some(None),
            }
        }
        inner.channel = None;
        let exitcode = match inner.status {
            Some(Some(status)) => status.exitcode(),
            // The status was lost (its forkserver died first, or someone else reaped
            // it): what the child reported says how it ended, else Python's 255.
            _ => lost_status_exitcode(&inner.outcome),
        };
        self.exitcode.store(i64::from(exitcode), Ordering::Release);
        tracing::debug!(name = %self.name, pid = self.pid, exitcode, "process ended");
        Ok(())
    }

    /// The child's return value, once settled.
    pub(crate) fn take_value<R: DeserializeOwned>(&self, deadline: Deadline) -> Result<R, Error> {
        if !self.owned_here() {
            return Err(Error::NotParent {
                name: self.name.clone(),
            });
        }
        let mut inner = match deadline.instant() {
            None => self.inner.lock(),
            Some(at) => self.inner.try_lock_until(at).ok_or(Error::TimedOut)?,
        };
        self.settle_locked(&mut inner, deadline)?;
        let name = self.name.clone();
        match std::mem::replace(&mut inner.outcome, Slot::Taken) {
            Slot::Taken => Err(Error::AlreadyTaken),
            Slot::Broken(err) => Err(err),
            Slot::Received(bytes, fds) => {
                match mp_wire::decode::<(Tag, Outcome<R>)>(&bytes, fds)? {
                    (_, Outcome::Returned(value)) => Ok(value),
                    (_, Outcome::Panicked(report)) => Err(report.into_error(name)),
                    (_, Outcome::StartFailed(fault)) => Err(Error::Start {
                        name,
                        fault: fault.into(),
                    }),
                    (_, Outcome::Unsendable(fault)) => Err(Error::ResultNotSent { name, fault }),
                }
            }
            Slot::Pending | Slot::Missing => match inner.status {
                Some(Some(ExitStatus::Signal(signal))) => Err(Error::Signaled {
                    name,
                    signal,
                    signal_name: signal_name(signal),
                }),
                Some(Some(ExitStatus::Code(code))) => Err(Error::Exited { name, code }),
                _ => Err(Error::StatusLost { name }),
            },
        }
    }
}

/// The exit code of a child whose exit status was lost: 0 if it reported a value, 1 if
/// it reported a panic or a failure (as it would have exited), and Python's 255 (what its
/// forkserver start method reports then) if it reported nothing.
fn lost_status_exitcode(outcome: &Slot) -> i32 {
    const LOST: i32 = 255;
    let Slot::Received(bytes, _) = outcome else {
        return LOST;
    };
    // The frame is `(Tag, Outcome<R>)`: two variant indices (varints, under 128 here)
    // come first, whatever `R` is.
    match bytes.get(1) {
        Some(0) => 0,
        Some(_) => 1,
        None => LOST,
    }
}

/// Reads one frame from the child's socket into `inner`.
fn read_frame(inner: &mut Inner) {
    let Some(channel) = inner.channel.as_ref() else {
        return;
    };
    match payload::recv(channel, MAX_MESSAGE_LEN).map_err(mp_shared_mem::Error::from) {
        Ok((bytes, fds)) => match postcard::take_from_bytes::<Tag>(&bytes) {
            Ok((Tag::Outcome, _)) if matches!(inner.outcome, Slot::Pending) => {
                inner.outcome = Slot::Received(bytes, fds);
            }
            Ok((Tag::Status, _)) => {
                let status = postcard::from_bytes::<(Tag, ExitStatus)>(&bytes)
                    .ok()
                    .map(|(_, status)| status);
                inner.status = Some(status);
                if matches!(inner.outcome, Slot::Pending) {
                    inner.outcome = Slot::Missing;
                }
            }
            _ => broken(
                inner,
                Error::Protocol {
                    fault: ProtocolFault::UnexpectedMessage,
                },
            ),
        },
        // ECONNRESET: the child died without reading all we sent it (killed early).
        Err(
            mp_shared_mem::Error::PeerClosed
            | mp_shared_mem::Error::Os {
                errno: nix::errno::Errno::ECONNRESET,
                ..
            },
        ) => {
            if matches!(inner.outcome, Slot::Pending) {
                inner.outcome = Slot::Missing;
            }
            // For the forkserver: the server died before it reported the status.
            inner.channel = None;
        }
        Err(err) => broken(inner, Error::Transfer(err)),
    }
}

/// The socket is out of step: nothing more can be read from it.
fn broken(inner: &mut Inner, err: Error) {
    if matches!(inner.outcome, Slot::Pending) {
        inner.outcome = Slot::Broken(err);
    }
    inner.channel = None;
}

#[cfg(test)]
mod tests {
    //! What the parent does with a child's socket that carries garbage: an error, never
    //! a panic or a hang.

    use std::io::Write;
    use std::sync::Arc;

    use mp_sys::pidfd;

    use super::*;

    /// A record for a real, short-lived child (`true`), whose socket the test writes.
    #[expect(
        clippy::zombie_processes,
        reason = "the record reaps the child, through waitid(P_PIDFD)"
    )]
    fn record_with_socket() -> (Arc<Record>, UnixStream) {
        let child = std::process::Command::new("true")
            .spawn()
            .expect("run true");
        let pid = child.id() as i32;
        let pidfd = pidfd::open(pid).expect("pidfd_open");
        let (parent_end, child_end) = UnixStream::pair().expect("socketpair");
        let record = Record::new(
            pid,
            "fake".into(),
            false,
            StartMethod::Spawn,
            pidfd,
            parent_end,
        );
        (Arc::new(record), child_end)
    }

    fn deadline() -> Deadline {
        Deadline::after(Duration::from_secs(30))
    }

    /// The header of a frame of `len` bytes (mp-wire's, Python's framing).
    fn frame_header(len: u64) -> Vec<u8> {
        match i32::try_from(len) {
            Ok(short) => short.to_be_bytes().to_vec(),
            Err(_) => [&(-1i32).to_be_bytes()[..], &len.to_be_bytes()].concat(),
        }
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        let (record, mut child_end) = record_with_socket();
        let garbage = b"\xffthis is not a message at all";
        child_end
            .write_all(&frame_header(garbage.len() as u64))
            .unwrap();
        child_end.write_all(garbage).unwrap();
        drop(child_end);
        let error = record.take_value::<u32>(deadline()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Protocol {
                    fault: ProtocolFault::UnexpectedMessage
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            record.exitcode(),
            Some(0),
            "the child is reaped all the same"
        );
    }

    #[test]
    fn a_truncated_frame_is_a_short_message() {
        let (record, mut child_end) = record_with_socket();
        child_end.write_all(&frame_header(100)).unwrap();
        child_end.write_all(&[0; 10]).unwrap();
        drop(child_end);
        let error = record.take_value::<u32>(deadline()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transfer(mp_shared_mem::Error::Truncated { .. })
            ),
            "{error:?}"
        );
    }

    #[test]
    fn an_oversized_frame_is_refused_unread() {
        let (record, mut child_end) = record_with_socket();
        child_end.write_all(&frame_header(1 << 40)).unwrap();
        drop(child_end);
        let error = record.take_value::<u32>(deadline()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transfer(mp_shared_mem::Error::MessageTooLarge { .. })
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_a_decode_error() {
        let (record, child_end) = record_with_socket();
        let outcome = Outcome::Returned("a string, not a number".to_owned());
        mp_wire::send_value(&child_end, &(Tag::Outcome, outcome)).unwrap();
        drop(child_end);
        let error = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(
            matches!(error, Error::Transfer(mp_shared_mem::Error::Decode { .. })),
            "{error:?}"
        );
    }

    #[test]
    fn an_unknown_tag_is_a_protocol_error() {
        let (record, child_end) = record_with_socket();
        mp_wire::send(&child_end, &[9, 9, 9], &[]).unwrap();
        drop(child_end);
        let error = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Protocol {
                    fault: ProtocolFault::UnexpectedMessage
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn silence_then_exit_is_an_exit_without_a_value() {
        let (record, child_end) = record_with_socket();
        drop(child_end);
        let error = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(matches!(error, Error::Exited { code: 0, .. }), "{error:?}");
        let again = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(matches!(again, Error::AlreadyTaken), "{again:?}");
    }
}
