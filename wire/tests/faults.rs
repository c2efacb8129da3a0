//! Each kind of fault is reported with its fields, not as text: a decode of the wrong
//! type, descriptors missing or claimed twice, a handle's refusal, a caller's buffer of
//! the wrong size.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use mp_wire::{DecodeFault, EncodeFault, Error, Reader, ReceivedFd};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn dev_null() -> OwnedFd {
    OwnedFd::from(std::fs::File::open("/dev/null").expect("/dev/null opens"))
}

#[test]
fn bytes_of_another_type_are_malformed_with_serde_s_message() {
    let (bytes, fds) = mp_wire::encode(&300u32).expect("encodes");
    match mp_wire::decode::<bool>(&bytes, fds) {
        Err(Error::Decode {
            type_name: "bool",
            fault: DecodeFault::Malformed { detail },
        }) => assert!(!detail.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn left_over_bytes_are_counted() {
    let mut buffer = Vec::new();
    mp_wire::encode_bytes_into(&(1u8, 2u8, 3u8), &mut buffer).expect("encodes");
    assert!(matches!(
        mp_wire::decode_bytes::<u8>(&buffer),
        Err(Error::Decode {
            type_name: "u8",
            fault: DecodeFault::TrailingBytes { left: 2 }
        })
    ));
}

#[test]
fn a_descriptor_named_but_not_sent_is_missing() {
    let file = dev_null();
    let (bytes, _fds) = mp_wire::encode(&mp_wire::Fd(file.as_fd())).expect("encodes");
    let error = mp_wire::decode::<ReceivedFd>(&bytes, Vec::new()).expect_err("no descriptor came");
    assert!(
        matches!(
            error,
            Error::Decode {
                fault: DecodeFault::MissingFd {
                    index: 0,
                    received: 0
                },
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn a_descriptor_claimed_twice_is_reported_with_its_index() {
    let (bytes, _) = mp_wire::encode(&(0u32, 0u32)).expect("encodes");
    let error = mp_wire::decode::<(ReceivedFd, ReceivedFd)>(&bytes, vec![dev_null()])
        .expect_err("one descriptor cannot serve two handles");
    assert!(
        matches!(
            error,
            Error::Decode {
                fault: DecodeFault::FdClaimedTwice { index: 0 },
                ..
            }
        ),
        "{error:?}"
    );
}

struct Picky;

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = u8::deserialize(deserializer)?;
        Err(mp_wire::reject(format_args!("{n} is not wanted")))
    }
}

#[test]
fn a_handle_s_refusal_keeps_its_reason_and_names_the_type() {
    let (bytes, fds) = mp_wire::encode(&5u8).expect("encodes");
    match mp_wire::decode::<Picky>(&bytes, fds) {
        Err(Error::Decode {
            type_name,
            fault: DecodeFault::Refused { detail },
        }) => {
            assert!(type_name.ends_with("Picky"), "{type_name}");
            assert_eq!(detail, "5 is not wanted");
        }
        other => panic!("{:?}", other.err()),
    }
}

struct Unwritable;

impl Serialize for Unwritable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("cannot be written"))
    }
}

#[test]
fn a_value_that_refuses_to_serialize_names_its_type() {
    match mp_wire::encode(&Unwritable) {
        Err(Error::Encode {
            type_name,
            fault: EncodeFault::Unserializable { detail },
        }) => {
            assert!(type_name.ends_with("Unwritable"), "{type_name}");
            assert_eq!(detail, "cannot be written");
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn a_payload_buffer_of_the_wrong_size_gives_both_lengths() {
    let (a, b) = UnixStream::pair().expect("a socket pair");
    mp_wire::send(&a, b"abcd", &[]).expect("sends");
    let mut reader = Reader::new();
    let header = reader.read_header(b.as_fd(), 16).expect("a header");
    let mut small = [0u8; 3];
    assert!(matches!(
        reader.payload_into(b.as_fd(), &header, &mut small),
        Err(Error::PayloadBufferMismatch { len: 4, buffer: 3 })
    ));
}
