//! mp-wire's codec writes exactly postcard's bytes (vectors of bytes and floats included,
//! which it copies as one block, and vectors of integers, which it writes and reads in one
//! loop), reads them back, and rejects corrupt input with
//! `Error::Decode`, never a panic or an allocation sized by a corrupt length.

use std::collections::BTreeMap;
use std::fmt::Debug;

use mp_wire::{Error, decode, encode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    name: String,
    bytes: Vec<u8>,
    signed: Vec<i8>,
    singles: Vec<f32>,
    doubles: Vec<f64>,
    wide: Vec<u32>,
    maybe: Option<Vec<u8>>,
    pair: (Vec<f64>, u16),
    nested: Vec<Vec<u8>>,
    key: [u8; 16],
    triple: [u32; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Message {
    Empty,
    Bytes(Vec<u8>),
    Pair(Vec<f32>, Vec<i8>),
    Named { doubles: Vec<f64>, tag: i64 },
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const SIZES: [usize; 9] = [0, 1, 2, 3, 7, 127, 128, 1000, 65_537];

/// Encodes `value`, checks the bytes are postcard's, and decodes it back.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let (bytes, fds) = encode(value).expect("encode");
    assert!(fds.is_empty());
    assert_eq!(
        bytes,
        postcard::to_allocvec(value).expect("postcard"),
        "{value:?}"
    );
    let back: T = decode(&bytes, fds).expect("decode");
    assert_eq!(&back, value);
    let by_postcard: T = postcard::from_bytes(&bytes).expect("postcard decodes ours");
    assert_eq!(&by_postcard, value);
}

fn record(rng: &mut Rng, len: usize) -> Record {
    let bytes = rng.bytes(len);
    Record {
        name: format!("record of {len} é"),
        signed: bytes.iter().map(|b| *b as i8).collect(),
        singles: bytes.iter().map(|b| f32::from(*b) * 0.5 - 3.0).collect(),
        doubles: bytes.iter().map(|b| f64::from(*b) / 7.0).collect(),
        wide: bytes.iter().map(|b| u32::from(*b) << (b % 25)).collect(),
        maybe: (len % 2 == 1).then(|| bytes.clone()),
        pair: (vec![-0.0, f64::INFINITY, f64::MIN_POSITIVE], u16::MAX),
        nested: vec![bytes.clone(), Vec::new(), bytes[..len / 2].to_vec()],
        key: std::array::from_fn(|i| bytes.get(i).copied().unwrap_or(i as u8)),
        triple: [len as u32, u32::MAX, 1 << 20],
        bytes,
    }
}

#[test]
fn every_block_type_round_trips_at_every_size_as_postcard_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for len in SIZES {
        let bytes = rng.bytes(len);
        round_trip(&bytes);
        round_trip(&bytes.iter().map(|b| *b as i8).collect::<Vec<i8>>());
        round_trip(
            &bytes
                .iter()
                .map(|b| f32::from(*b) - 0.25)
                .collect::<Vec<f32>>(),
        );
        round_trip(
            &bytes
                .iter()
                .map(|b| f64::from(*b) * 1e300)
                .collect::<Vec<f64>>(),
        );
        round_trip(&record(&mut rng, len));
        // Slices take the block path on the way out.
        let slice: &[u8] = &bytes;
        let (encoded, _) = encode(slice).expect("encode slice");
        assert_eq!(encoded, postcard::to_allocvec(slice).expect("postcard"));
        let floats: Vec<f64> = bytes.iter().map(|b| f64::from(*b)).collect();
        let (encoded, _) = encode(&floats[..]).expect("encode float slice");
        assert_eq!(
            encoded,
            postcard::to_allocvec(&floats[..]).expect("postcard")
        );
    }
}

#[test]
fn blocks_nested_in_enums_options_tuples_and_maps_round_trip() {
    let mut rng = Rng(42);
    for len in SIZES {
        let bytes = rng.bytes(len);
        let doubles: Vec<f64> = bytes.iter().map(|b| f64::from(*b) - 100.0).collect();
        round_trip(&vec![
            Message::Empty,
            Message::Bytes(bytes.clone()),
            Message::Pair(doubles.iter().map(|d| *d as f32).collect(), vec![-1, 0, 1]),
            Message::Named {
                doubles: doubles.clone(),
                tag: -(len as i64),
            },
        ]);
        round_trip(&Some((bytes.clone(), doubles.clone(), 'λ', true)));
        round_trip(&None::<Vec<u8>>);
        let mut map = BTreeMap::new();
        map.insert(bytes.clone(), doubles.clone());
        map.insert(Vec::new(), Vec::new());
        round_trip(&map);
    }
}

#[test]
fn scalars_strings_and_wide_integers_match_postcard() {
    round_trip(&(
        (i8::MIN, i16::MIN, i32::MIN, i64::MIN, i128::MIN),
        (u8::MAX, u16::MAX, u32::MAX, u64::MAX, u128::MAX),
        (-1i64, 0u64, 300u32, 1.5f32, -2.25f64),
    ));
    round_trip(&(
        String::new(),
        String::from("strings stay one block"),
        '\u{10FFFF}',
    ));
    round_trip(&vec![i64::MAX, -5, 0, 1 << 40]);
    round_trip(&((), Some(()), vec![(); 3]));
}

/// Values at both sides of every varint length (1 to 10 bytes), and the extremes.
fn varint_edges() -> Vec<u64> {
    let mut edges = vec![0, 1, u64::MAX - 1, u64::MAX];
    for bits in (7..64).step_by(7) {
        edges.extend([(1u64 << bits) - 1, 1u64 << bits, (1u64 << bits) + 1]);
    }
    edges
}

#[test]
fn integers_of_every_width_and_varint_length_match_postcard() {
    let edges = varint_edges();
    for &value in &edges {
        round_trip(&value);
        round_trip(&(
            value as u32,
            value as u16,
            value as i64,
            value as i32,
            value as i16,
        ));
        round_trip(&(value as usize, value as isize));
    }
    // Vectors and slices of integers take the one-loop path, both ways.
    round_trip(&edges);
    round_trip(&edges.iter().map(|v| *v as u32).collect::<Vec<_>>());
    round_trip(&edges.iter().map(|v| *v as u16).collect::<Vec<_>>());
    round_trip(&edges.iter().map(|v| *v as usize).collect::<Vec<_>>());
    round_trip(&edges.iter().map(|v| *v as i64).collect::<Vec<_>>());
    round_trip(&edges.iter().map(|v| *v as i32).collect::<Vec<_>>());
    round_trip(&edges.iter().map(|v| *v as i16).collect::<Vec<_>>());
    round_trip(&edges.iter().map(|v| *v as isize).collect::<Vec<_>>());
    round_trip(&(
        Vec::<u64>::new(),
        Vec::<i16>::new(),
        vec![vec![1u32, 300], vec![]],
    ));
    // 1-tuples of integers (a pool's `map` arguments) take the same path.
    round_trip(&edges.iter().map(|v| (*v,)).collect::<Vec<(u64,)>>());
    round_trip(&edges.iter().map(|v| (*v as i32,)).collect::<Vec<(i32,)>>());
    round_trip(
        &edges
            .iter()
            .map(|v| (*v as usize,))
            .collect::<Vec<(usize,)>>(),
    );
    let tuples: &[(i64,)] = &[(i64::MIN,), (-1,), (0,), (i64::MAX,)];
    let (encoded, _) = encode(tuples).expect("encode tuple slice");
    assert_eq!(encoded, postcard::to_allocvec(tuples).expect("postcard"));
    assert_eq!(
        decode::<Vec<(i64,)>>(&encoded, Vec::new()).expect("decode"),
        tuples
    );
    let slice: &[i32] = &[i32::MIN, -1, 0, 1, i32::MAX];
    let (encoded, _) = encode(slice).expect("encode slice");
    assert_eq!(encoded, postcard::to_allocvec(slice).expect("postcard"));
    assert_eq!(
        decode::<Vec<i32>>(&encoded, Vec::new()).expect("decode"),
        slice
    );
}

#[test]
fn integer_vectors_reject_values_too_wide_counts_too_long_and_truncation() {
    // 70 000 does not fit a u16, nor 2^40 an i32, nor a 64-bit value 2^63 * 2.
    let wide = postcard::to_allocvec(&vec![1u32, 70_000]).expect("postcard");
    assert!(matches!(
        decode::<Vec<u16>>(&wide, Vec::new()),
        Err(Error::Decode { .. })
    ));
    let wide = postcard::to_allocvec(&vec![1i64 << 40]).expect("postcard");
    assert!(matches!(
        decode::<Vec<i32>>(&wide, Vec::new()),
        Err(Error::Decode { .. })
    ));
    let eleven = [
        1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
    ];
    assert!(matches!(
        decode::<Vec<u64>>(&eleven, Vec::new()),
        Err(Error::Decode { .. })
    ));
    // A count larger than the bytes left, which would otherwise size the allocation.
    let huge = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 5,
    ];
    assert!(matches!(
        decode::<Vec<u64>>(&huge, Vec::new()),
        Err(Error::Decode { .. })
    ));
    let (bytes, _) = encode(&varint_edges()).expect("encode");
    for end in 0..bytes.len() {
        assert!(
            matches!(
                decode::<Vec<u64>>(&bytes[..end], Vec::new()),
                Err(Error::Decode { .. })
            ),
            "truncated at {end}"
        );
    }
    let mut rng = Rng(0xfeed);
    for _ in 0..20_000 {
        let len = (rng.next() % 24) as usize;
        let mut bytes = rng.bytes(len);
        if let Some(count) = bytes.first_mut() {
            *count %= 6;
        }
        // Both readers accept the same inputs (overlong varints included) as the same values.
        let theirs = postcard::take_from_bytes::<(Vec<u16>, Vec<i64>)>(&bytes)
            .ok()
            .filter(|(_, rest)| rest.is_empty())
            .map(|(value, _)| value);
        match decode::<(Vec<u16>, Vec<i64>)>(&bytes, Vec::new()) {
            Ok(value) => assert_eq!(Some(value), theirs, "{bytes:?}"),
            Err(Error::Decode { .. }) => assert_eq!(theirs, None, "{bytes:?}"),
            Err(other) => panic!("unexpected error {other:?}"),
        }
        let theirs = postcard::take_from_bytes::<Vec<(u32,)>>(&bytes)
            .ok()
            .filter(|(_, rest)| rest.is_empty())
            .map(|(value, _)| value);
        match decode::<Vec<(u32,)>>(&bytes, Vec::new()) {
            Ok(value) => assert_eq!(Some(value), theirs, "{bytes:?}"),
            Err(Error::Decode { .. }) => assert_eq!(theirs, None, "{bytes:?}"),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
}

#[test]
fn lengths_past_the_end_or_overflowing_are_decode_errors() {
    // A count of u64::MAX elements, as a varint, followed by nothing.
    let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert!(matches!(
        decode::<Vec<u8>>(&huge, Vec::new()),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        decode::<Vec<f64>>(&huge, Vec::new()),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        decode::<Vec<f32>>(&huge, Vec::new()),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        decode::<Vec<u32>>(&huge, Vec::new()),
        Err(Error::Decode { .. })
    ));
    // A count whose byte size overflows usize: 2^62 doubles.
    let overflow = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40];
    assert!(matches!(
        decode::<Vec<f64>>(&overflow, Vec::new()),
        Err(Error::Decode { .. })
    ));
    // A varint that never ends.
    assert!(matches!(
        decode::<Vec<u8>>(&[0x80; 20], Vec::new()),
        Err(Error::Decode { .. })
    ));
    // Every truncation of a valid message fails cleanly.
    let (bytes, _) = encode(&record(&mut Rng(7), 33)).expect("encode");
    for end in 0..bytes.len() {
        assert!(
            matches!(
                decode::<Record>(&bytes[..end], Vec::new()),
                Err(Error::Decode { .. })
            ),
            "truncated at {end}"
        );
    }
    // One byte too many.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        decode::<Record>(&longer, Vec::new()),
        Err(Error::Decode { .. })
    ));
}

#[test]
fn random_bytes_decode_or_fail_without_panicking() {
    let mut rng = Rng(0x1234_5678);
    for round in 0..20_000 {
        let len = (rng.next() % 48) as usize;
        let mut bytes = rng.bytes(len);
        if round % 3 == 0 && !bytes.is_empty() {
            // Small counts, so that some inputs decode.
            bytes[0] %= 8;
        }
        let ours = decode::<(Vec<u8>, Vec<f64>, String)>(&bytes, Vec::new());
        let theirs = postcard::from_bytes::<(Vec<u8>, Vec<f64>, String)>(&bytes);
        match ours {
            Ok(value) => {
                assert_eq!(postcard::to_allocvec(&value).expect("postcard"), bytes);
            }
            Err(Error::Decode { .. }) => {
                if let Ok(value) = theirs {
                    // postcard ignores trailing bytes in from_bytes; we reject them.
                    assert_ne!(postcard::to_allocvec(&value).expect("postcard"), bytes);
                }
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
}

#[test]
fn bytes_only_entry_points_write_the_same_bytes_and_report_a_full_slice() {
    let value = record(&mut Rng(99), 200);
    let (expected, _) = encode(&value).expect("encode");
    let mut buffer = vec![0xAA];
    mp_wire::encode_bytes_into(&value, &mut buffer).expect("encode into");
    assert_eq!(buffer[1..], expected[..]);
    assert_eq!(
        mp_wire::decode_bytes::<Record>(&buffer[1..]).expect("decode"),
        value
    );
    for room in 0..expected.len() {
        let mut slice = vec![0u8; room];
        assert_eq!(
            mp_wire::encode_bytes_into_slice(&value, &mut slice).expect("encode into slice"),
            None,
            "{room} bytes of room"
        );
    }
    let mut slice = vec![0u8; expected.len() + 3];
    let written = mp_wire::encode_bytes_into_slice(&value, &mut slice).expect("encode into slice");
    assert_eq!(written, Some(expected.len()));
    assert_eq!(slice[..expected.len()], expected[..]);
    assert!(matches!(
        mp_wire::decode_bytes::<Record>(&slice),
        Err(Error::Decode { .. })
    ));
}
