//! The decoders of a spawned child's boot message, reachable from outside the crate
//! only so that the workspace's fault suite can feed them random and mutated bytes:
//! they read what another process wrote, so no input may make them panic, hang or
//! allocate without bound.

use crate::role::parse_boot_value;
use crate::wire::{Call, Identity, MAX_CONTROL_LEN};

/// Decodes a boot variable's value and a [`Call`] frame's payload as a starting child
/// does, and says which of the two were valid. Not part of the API.
///
/// ```
/// let (value, call) = mp_processes::sample_boot_message();
/// assert_eq!(mp_processes::decode_boot_message(&value, &call), (true, true));
/// assert_eq!(mp_processes::decode_boot_message("spawn:x", &[0xff]), (false, false));
/// ```
pub fn decode_boot_message(boot_value: &str, call: &[u8]) -> (bool, bool) {
    let value_ok = parse_boot_value(boot_value).is_some();
    let call_ok =
        call.len() <= MAX_CONTROL_LEN && mp_wire::decode::<Call>(call, Vec::new()).is_ok();
    (value_ok, call_ok)
}

/// A valid boot variable's value and `Call` payload, for mutating. Not part of the API.
///
/// ```
/// let (value, call) = mp_processes::sample_boot_message();
/// assert!(value.starts_with("spawn:"));
/// assert!(!call.is_empty());
/// ```
pub fn sample_boot_message() -> (String, Vec<u8>) {
    let call = Call {
        build_id: 0x0123_4567_89ab_cdef,
        entry: -4096,
        child: Identity {
            name: "Process-1".to_owned(),
            daemon: true,
            counters: vec![1, 2],
            parent_pid: 100,
            parent_name: "MainProcess".to_owned(),
        },
    };
    let bytes = mp_wire::encode(&call).map_or_else(|_| Vec::new(), |(bytes, _fds)| bytes);
    ("spawn:3:100".to_owned(), bytes)
}
