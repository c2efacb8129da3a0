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
    getrandom::fill(&mut nonce).map_err(|err| {
        Error::AuthenticationFailed(format!("no random bytes for a challenge: {err}"))
    })?;
    message.extend_from_slice(&nonce);
    stream
        .send_frame(&[CHALLENGE, &message].concat())
        .map_err(|err| failed("sending the challenge", err))?;
    let response = stream
        .recv_frame(MAX_HANDSHAKE_MESSAGE)
        .map_err(|err| failed("reading the answer to the challenge", err))?;
    match verify(key, &message, &response) {
        Ok(()) => stream
            .send_frame(WELCOME)
            .map_err(|err| failed("sending the welcome", err)),
        Err(reason) => {
            // The peer learns it failed; whether it hears it changes nothing here.
            let _ = stream.send_frame(FAILURE);
            Err(Error::AuthenticationFailed(reason))
        }
    }
}

/// Answers a challenge and reads the verdict (the first half of a client's handshake,
/// the second of a server's).
fn answer_challenge(stream: &HandshakeStream<'_>, key: &[u8]) -> Result<(), Error> {
    let message = stream
        .recv_frame(MAX_HANDSHAKE_MESSAGE)
        .map_err(|err| failed("reading the challenge", err))?;
    let Some(challenge) = message.strip_prefix(CHALLENGE) else {
        return Err(Error::AuthenticationFailed(
            "the peer sent something other than a challenge".into(),
        ));
    };
    let answer = answer_to(key, challenge)?;
    stream
        .send_frame(&answer)
        .map_err(|err| failed("sending the answer", err))?;
    let verdict = stream
        .recv_frame(MAX_HANDSHAKE_MESSAGE)
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
        Error::TimedOut => format!("{step}: the peer did not answer in time"),
        Error::MessageTooLarge { len, .. } => {
            format!("{step}: a handshake message of {len} bytes (at most {MAX_HANDSHAKE_MESSAGE})")
        }
        error => format!("{step}: {error}"),
    };
    Error::AuthenticationFailed(reason)
}
