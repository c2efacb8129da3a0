//! The authentication handshake of [`Listener`](crate::Listener) and
//! [`Client`](crate::Client): Python's `deliver_challenge` and `answer_challenge`
//! (the protocol of Python 3.12 and later, with HMAC-SHA256).
//!
//! The side that delivers sends `#CHALLENGE#{sha256}` and 40 random bytes; the other
//! answers `{sha256}` and the HMAC-SHA256, under the shared key, of everything after
//! `#CHALLENGE#`; the first checks it in constant time and replies `#WELCOME#` or
//! `#FAILURE#`. The server delivers first, then answers the client's challenge, so each
//! side proves to the other that it knows the key, and neither reads a message before.
//!
//! Python 3.11 and older speak the legacy form: a challenge of 20 bare random bytes and a
//! bare 16-byte HMAC-MD5 answer. As Python 3.12 does, this side answers such a challenge
//! with HMAC-MD5 and accepts a bare 16-byte HMAC-MD5 answer to its own challenge (a MAC
//! only a holder of the key can make, over a nonce this side chose), so it talks to
//! every Python version.
//!
//! Every handshake message is read with a limit of 256 bytes, as Python's, and the whole
//! handshake must be over by one deadline ([`HANDSHAKE_TIMEOUT`] from its start unless
//! the caller sets another): a silent peer, or one that sends a byte now and then,
//! cannot hold an `accept` or a `connect` longer than that. The messages are read
//! straight from the socket, each wait for bytes bounded by what is left of the
//! deadline; the connection's own reader, which reads ahead, starts after the
//! handshake, so no byte of the first real message is taken here.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use mp_sys::Deadline;

use hmac::{EagerHash, Hmac, KeyInit, Mac};
use md5::Md5;
use nix::errno::Errno;
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;
use sha2::Sha256;

use super::Connection;
use crate::Error;

/// How long a whole handshake may take, unless the listener or the client says
/// otherwise.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
/// The digest this side uses and names, as Python 3.12 writes it.
const DIGEST_PREFIX: &[u8] = b"{sha256}";
/// Random bytes in a challenge (Python's `MESSAGE_LENGTH`).
const NONCE_LEN: usize = 40;
/// The longest handshake message read (Python's limit too).
const MAX_HANDSHAKE_MESSAGE: usize = 256;

/// Sends a challenge and checks the answer (the first half of a server's handshake, the
/// second of a client's).
pub(crate) fn deliver_challenge<T>(
    connection: &Connection<T>,
    key: &[u8],
    deadline: Deadline,
) -> Result<(), Error> {
    with_send_timeout(connection, deadline, || {
        let mut message = DIGEST_PREFIX.to_vec();
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|err| {
            Error::AuthenticationFailed(format!("no random bytes for a challenge: {err}"))
        })?;
        message.extend_from_slice(&nonce);
        connection
            .send_bytes(&[CHALLENGE, &message].concat())
            .map_err(|err| failed("sending the challenge", err))?;
        let response = recv_message(connection.as_fd(), deadline)
            .map_err(|err| failed("reading the answer to the challenge", err))?;
        match verify(key, &message, &response) {
            Ok(()) => connection
                .send_bytes(WELCOME)
                .map_err(|err| failed("sending the welcome", err)),
            Err(reason) => {
                // The peer learns it failed; whether it hears it changes nothing here.
                let _ = connection.send_bytes(FAILURE);
                Err(Error::AuthenticationFailed(reason))
            }
        }
    })
}

/// Answers a challenge and reads the verdict (the first half of a client's handshake,
/// the second of a server's).
pub(crate) fn answer_challenge<T>(
    connection: &Connection<T>,
    key: &[u8],
    deadline: Deadline,
) -> Result<(), Error> {
    with_send_timeout(connection, deadline, || {
        let message = recv_message(connection.as_fd(), deadline)
            .map_err(|err| failed("reading the challenge", err))?;
        let Some(challenge) = message.strip_prefix(CHALLENGE) else {
            return Err(Error::AuthenticationFailed(
                "the peer sent something other than a challenge".into(),
            ));
        };
        let answer = answer_to(key, challenge)?;
        connection
            .send_bytes(&answer)
            .map_err(|err| failed("sending the answer", err))?;
        let verdict = recv_message(connection.as_fd(), deadline)
            .map_err(|err| failed("reading the verdict", err))?;
        if verdict == WELCOME {
            Ok(())
        } else if verdict == FAILURE {
            Err(Error::AuthenticationFailed(
                "the peer refused our answer: the keys differ".into(),
            ))
        } else {
            Err(Error::AuthenticationFailed(
                "the peer sent neither welcome nor failure".into(),
            ))
        }
    })
}

/// The length of a legacy (Python 3.11 and older) challenge: bare random bytes.
const LEGACY_CHALLENGE_LEN: usize = 20;
/// The length of a legacy answer: a bare HMAC-MD5.
const LEGACY_ANSWER_LEN: usize = 16;

/// The answer to `challenge` (what followed `#CHALLENGE#`): `{sha256}` and the HMAC-SHA256
/// of the whole challenge, or for a legacy challenge the bare HMAC-MD5 of it.
fn answer_to(key: &[u8], challenge: &[u8]) -> Result<Vec<u8>, Error> {
    if challenge.len() == LEGACY_CHALLENGE_LEN {
        return mac::<Md5>(key, challenge);
    }
    if challenge.starts_with(DIGEST_PREFIX) && challenge.len() >= DIGEST_PREFIX.len() + 20 {
        return Ok([DIGEST_PREFIX, &mac::<Sha256>(key, challenge)?].concat());
    }
    let named = challenge
        .strip_prefix(b"{")
        .and_then(|rest| rest.split(|&byte| byte == b'}').next())
        .filter(|name| name.len() < challenge.len() - 1);
    Err(Error::AuthenticationFailed(match named {
        Some(name) => format!(
            "the challenge asks for {:?}, only sha256 (and Python 3.11's legacy MD5) are offered",
            String::from_utf8_lossy(name)
        ),
        None => format!(
            "a malformed challenge of {} bytes (neither {{sha256}} nor legacy)",
            challenge.len()
        ),
    }))
}

/// Checks `response` to the challenge `message`: `{sha256}` and the right HMAC-SHA256, or
/// a legacy bare HMAC-MD5 of the right length.
fn verify(key: &[u8], message: &[u8], response: &[u8]) -> Result<(), String> {
    let checked = if let Some(tag) = response.strip_prefix(DIGEST_PREFIX) {
        verify_mac::<Sha256>(key, message, tag)
    } else if response.len() == LEGACY_ANSWER_LEN {
        verify_mac::<Md5>(key, message, response)
    } else {
        return Err("the answer is neither {sha256} nor a legacy HMAC-MD5".into());
    };
    checked.map_err(|()| "the answer to the challenge is wrong: the keys differ".to_string())
}

fn mac<D: EagerHash>(key: &[u8], message: &[u8]) -> Result<Vec<u8>, Error>
where
    Hmac<D>: KeyInit + Mac,
{
    // HMAC takes keys of any length (a long one is hashed): this does not fail.
    let mut hmac = <Hmac<D> as KeyInit>::new_from_slice(key)
        .map_err(|err| Error::AuthenticationFailed(format!("unusable key: {err}")))?;
    hmac.update(message);
    Ok(hmac.finalize().into_bytes().to_vec())
}

/// Compares in constant time (and checks the length), as `hmac.compare_digest` does.
fn verify_mac<D: EagerHash>(key: &[u8], message: &[u8], tag: &[u8]) -> Result<(), ()>
where
    Hmac<D>: KeyInit + Mac,
{
    let Ok(mut hmac) = <Hmac<D> as KeyInit>::new_from_slice(key) else {
        return Err(());
    };
    hmac.update(message);
    hmac.verify_slice(tag).map_err(|_| ())
}

fn failed(step: &str, error: Error) -> Error {
    let reason = match error {
        Error::Os {
            errno: Errno::EAGAIN,
            ..
        } => format!("{step}: the peer did not answer in time"),
        Error::MessageTooLarge { len, .. } => {
            format!("{step}: a handshake message of {len} bytes (at most {MAX_HANDSHAKE_MESSAGE})")
        }
        error => format!("{step}: {error}"),
    };
    Error::AuthenticationFailed(reason)
}

/// Runs the handshake with a send timeout on the socket of what is left of `deadline`
/// (a handshake message always fits the socket's buffer, so this only guards against a
/// peer whose buffer is full of something else), and takes it off again whatever
/// happened (the connection is dropped on failure anyway).
fn with_send_timeout<T>(
    connection: &Connection<T>,
    deadline: Deadline,
    handshake: impl FnOnce() -> Result<(), Error>,
) -> Result<(), Error> {
    let set = |limit: Duration| -> Result<(), Error> {
        let limit = TimeVal::from(mp_sys::deadline::to_timeval(limit));
        setsockopt(&connection.as_fd(), sockopt::SendTimeout, &limit).map_err(|errno| Error::Os {
            operation: "setsockopt(SO_SNDTIMEO)",
            errno,
        })
    };
    // Zero means no timeout to the kernel: a deadline already past gets the shortest.
    if let Some(left) = deadline.remaining() {
        set(left.max(Duration::from_micros(1)))?;
    }
    let outcome = handshake();
    set(Duration::ZERO)?;
    outcome
}

/// Reads one handshake message (the 4-byte length, then at most
/// [`MAX_HANDSHAKE_MESSAGE`] bytes) by `deadline`, however the peer spreads its bytes.
fn recv_message(socket: BorrowedFd<'_>, deadline: Deadline) -> Result<Vec<u8>, Error> {
    let mut prefix = [0u8; 4];
    recv_exact_by(socket, &mut prefix, deadline)?;
    let len = i32::from_be_bytes(prefix);
    let len = usize::try_from(len).map_err(|_| {
        Error::CorruptFrame(format!("a handshake message with the length prefix {len}"))
    })?;
    if len > MAX_HANDSHAKE_MESSAGE {
        return Err(Error::MessageTooLarge {
            len: len as u64,
            max: MAX_HANDSHAKE_MESSAGE,
        });
    }
    let mut message = vec![0u8; len];
    recv_exact_by(socket, &mut message, deadline)?;
    Ok(message)
}

/// Fills `buf` from the socket, waiting for each part no later than `deadline`.
fn recv_exact_by(socket: BorrowedFd<'_>, buf: &mut [u8], deadline: Deadline) -> Result<(), Error> {
    let mut filled = 0;
    while filled < buf.len() {
        let readable = mp_sys::poll::is_readable(socket, deadline).map_err(|errno| Error::Os {
            operation: "poll",
            errno,
        })?;
        if !readable {
            return Err(Error::Os {
                operation: "recv",
                errno: Errno::EAGAIN,
            });
        }
        match nix::sys::socket::recv(
            socket.as_raw_fd(),
            &mut buf[filled..],
            nix::sys::socket::MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(0) => {
                return Err(if filled == 0 {
                    Error::PeerClosed
                } else {
                    Error::Truncated {
                        expected: buf.len() as u64,
                        received: filled as u64,
                    }
                });
            }
            Ok(received) => filled += received,
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            Err(Errno::ECONNRESET) => return Err(Error::PeerClosed),
            Err(errno) => {
                return Err(Error::Os {
                    operation: "recv",
                    errno,
                });
            }
        }
    }
    Ok(())
}
