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
//! handshake, both halves, must be over by one deadline ([`HANDSHAKE_TIMEOUT`] from its
//! start unless the caller says otherwise): a silent or slow peer cannot hold an `accept`
//! or a `connect` forever.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use hmac::{EagerHash, Hmac, KeyInit, Mac};
use md5::Md5;
use mp_sys::Deadline;
use sha2::Sha256;

use super::handshake_stream::HandshakeStream;
use crate::{AuthFault, Error, HandshakeStep};

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

/// A server's handshake on a socket it accepted: it challenges the client, then answers
/// the client's challenge; over by `deadline`.
pub(crate) fn authenticate_client(
    socket: BorrowedFd<'_>,
    key: &[u8],
    deadline: Deadline,
) -> Result<(), Error> {
    let stream = HandshakeStream::new(socket, deadline);
    deliver_challenge(&stream, key).and_then(|()| answer_challenge(&stream, key))
}

/// A client's handshake on a socket it connected: it answers the server's challenge,
/// then challenges the server; over by `deadline`.
pub(crate) fn authenticate_server(
    socket: BorrowedFd<'_>,
    key: &[u8],
    deadline: Deadline,
) -> Result<(), Error> {
    let stream = HandshakeStream::new(socket, deadline);
    answer_challenge(&stream, key).and_then(|()| deliver_challenge(&stream, key))
}

/// Sends a challenge and checks the answer (the first half of a server's handshake, the
/// second of a client's).
fn deliver_challenge(stream: &HandshakeStream<'_>, key: &[u8]) -> Result<(), Error> {
    let mut message = DIGEST_PREFIX.to_vec();
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|err| Error::AuthenticationFailed {
        step: HandshakeStep::MakingChallenge,
        fault: AuthFault::NoRandomness {
            code: err.raw_os_error(),
        },
    })?;
    message.extend_from_slice(&nonce);
    stream
        .send_frame(&[CHALLENGE, &message].concat())
        .map_err(|err| failed(HandshakeStep::SendingChallenge, err))?;
    let response = stream
        .recv_frame(MAX_HANDSHAKE_MESSAGE)
        .map_err(|err| failed(HandshakeStep::ReadingAnswer, err))?;
    match verify(key, &message, &response) {
        Ok(()) => stream
            .send_frame(WELCOME)
            .map_err(|err| failed(HandshakeStep::SendingWelcome, err)),
        Err(fault) => {
            // The peer learns it failed; whether it hears it changes nothing here.
            let _ = stream.send_frame(FAILURE);
            Err(Error::AuthenticationFailed {
                step: HandshakeStep::ReadingAnswer,
                fault,
            })
        }
    }
}

/// Answers a challenge and reads the verdict (the first half of a client's handshake,
/// the second of a server's).
fn answer_challenge(stream: &HandshakeStream<'_>, key: &[u8]) -> Result<(), Error> {
    let message = stream
        .recv_frame(MAX_HANDSHAKE_MESSAGE)
        .map_err(|err| failed(HandshakeStep::ReadingChallenge, err))?;
    let Some(challenge) = message.strip_prefix(CHALLENGE) else {
        return Err(Error::AuthenticationFailed {
            step: HandshakeStep::ReadingChallenge,
            fault: AuthFault::NotAChallenge,
        });
    };
    let answer = answer_to(key, challenge).map_err(|fault| Error::AuthenticationFailed {
        step: HandshakeStep::ReadingChallenge,
        fault,
    })?;
    stream
        .send_frame(&answer)
        .map_err(|err| failed(HandshakeStep::SendingAnswer, err))?;
    let verdict = stream
        .recv_frame(MAX_HANDSHAKE_MESSAGE)
        .map_err(|err| failed(HandshakeStep::ReadingVerdict, err))?;
    let fault = if verdict == WELCOME {
        return Ok(());
    } else if verdict == FAILURE {
        AuthFault::Refused
    } else {
        AuthFault::NoVerdict
    };
    Err(Error::AuthenticationFailed {
        step: HandshakeStep::ReadingVerdict,
        fault,
    })
}

/// The length of a legacy (Python 3.11 and older) challenge: bare random bytes.
const LEGACY_CHALLENGE_LEN: usize = 20;
/// The length of a legacy answer: a bare HMAC-MD5.
const LEGACY_ANSWER_LEN: usize = 16;

/// The answer to `challenge` (what followed `#CHALLENGE#`): `{sha256}` and the HMAC-SHA256
/// of the whole challenge, or for a legacy challenge the bare HMAC-MD5 of it.
fn answer_to(key: &[u8], challenge: &[u8]) -> Result<Vec<u8>, AuthFault> {
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
    Err(match named {
        Some(name) => AuthFault::UnsupportedDigest {
            digest: String::from_utf8_lossy(name).into_owned(),
        },
        None => AuthFault::MalformedChallenge {
            len: challenge.len(),
        },
    })
}

/// Checks `response` to the challenge `message`: `{sha256}` and the right HMAC-SHA256, or
/// a legacy bare HMAC-MD5 of the right length.
fn verify(key: &[u8], message: &[u8], response: &[u8]) -> Result<(), AuthFault> {
    let checked = if let Some(tag) = response.strip_prefix(DIGEST_PREFIX) {
        verify_mac::<Sha256>(key, message, tag)
    } else if response.len() == LEGACY_ANSWER_LEN {
        verify_mac::<Md5>(key, message, response)
    } else {
        return Err(AuthFault::MalformedAnswer {
            len: response.len(),
        });
    };
    checked.map_err(|()| AuthFault::WrongAnswer)
}

fn mac<D: EagerHash>(key: &[u8], message: &[u8]) -> Result<Vec<u8>, AuthFault>
where
    Hmac<D>: KeyInit + Mac,
{
    // HMAC takes keys of any length (a long one is hashed): this does not fail.
    let mut hmac = <Hmac<D> as KeyInit>::new_from_slice(key).map_err(|_| AuthFault::UnusableKey)?;
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

/// A handshake that failed at `step`. One that ran out of time is [`Error::TimedOut`], as
/// every timed wait of the workspace (the step goes to the debug log).
fn failed(step: HandshakeStep, error: Error) -> Error {
    let fault = match error {
        Error::TimedOut => {
            tracing::debug!(?step, "the handshake ran out of time");
            return Error::TimedOut;
        }
        Error::MessageTooLarge { len, max } => AuthFault::MessageTooLarge { len, max },
        error => AuthFault::Connection(Box::new(error)),
    };
    Error::AuthenticationFailed { step, fault }
}
