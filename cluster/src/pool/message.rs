//! What a pool's streams carry: a task from a caller to the workers, a verdict from a
//! worker back to its caller. Each entry has two fields: `m`, the message's postcard
//! bytes, and `s`, their signature (empty without a key; see [`Signer`]).

use std::collections::HashMap;

use mp_processes::pool::EncodedOutcomes;
use redis::Value;
use serde::{Deserialize, Serialize};

use crate::sign::Signer;

/// The field holding the message.
pub(crate) const MESSAGE: &str = "m";
/// The field holding the signature.
pub(crate) const SIGNATURE: &str = "s";

/// A task, as the tasks stream carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TaskMessage {
    /// Whose task: the caller's name (its results stream and its liveness key).
    pub(crate) caller: String,
    /// The task's number at its caller.
    pub(crate) task: u64,
    /// The function's entry, valid in the build of the stream's name.
    pub(crate) entry: i64,
    /// How many calls.
    pub(crate) len: u32,
    /// The calls' arguments, encoded.
    pub(crate) items: Vec<u8>,
}

/// What became of a task, as the results stream carries it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ResultMessage {
    pub(crate) task: u64,
    pub(crate) verdict: Verdict,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Verdict {
    /// The task ran on a worker's local pool.
    Ran(EncodedOutcomes),
    /// The task was taken by this many workers, each of which died before finishing it.
    KilledWorkers { attempts: u32 },
    /// A worker refused the task: its signature did not check with the worker's key.
    /// Sent unsigned (the worker cannot sign for a key it does not share), and believed
    /// unsigned, since it can only fail a task, never give it a value.
    BadSignature { worker: String },
}

/// The bytes and signature of a stream entry's fields; `None` if it lacks the message.
pub(crate) fn fields(map: &HashMap<String, Value>) -> Option<(Vec<u8>, Vec<u8>)> {
    let bytes = |field: &str| match map.get(field) {
        Some(Value::BulkString(bytes)) => Some(bytes.clone()),
        _ => None,
    };
    Some((bytes(MESSAGE)?, bytes(SIGNATURE).unwrap_or_default()))
}

/// A message's bytes and their signature.
pub(crate) fn seal<T: Serialize>(
    message: &T,
    signer: &Signer,
) -> Result<(Vec<u8>, Vec<u8>), mp_wire::Error> {
    let mut bytes = Vec::new();
    mp_wire::encode_bytes_into(message, &mut bytes)?;
    let signature = signer.sign(&bytes);
    Ok((bytes, signature))
}
