//! Encodes and decodes one message many times with mp-wire's codec or with postcard, for
//! instruction counts under `valgrind --tool=callgrind` (which do not depend on load).
//!
//! `cargo run --release -p mp-wire --example codec_cost -- wire|bytes|postcard|memcpy 64k|small|key16 [ROUNDS]`
//! (`bytes`: the bytes-only entry points a queue uses, `encode_bytes_into_slice` and
//! `decode_bytes`)
//! (the difference between two round counts is the cost of the rounds alone)

use std::hint::black_box;

use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct SmallRecord {
    id: u64,
    name: String,
    values: Vec<u32>,
    flag: bool,
    score: f64,
}

/// A fixed-size key: a tuple of 16 bytes to serde, as in a queue's small messages.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Key16([u8; 16]);

fn run<T>(codec: &str, message: &T, rounds: usize) -> Result<(), Box<dyn std::error::Error>>
where
    T: PartialEq + std::fmt::Debug + Serialize + serde::de::DeserializeOwned,
{
    for _ in 0..rounds {
        let back: T = match codec {
            "wire" => {
                let (bytes, fds) = mp_wire::encode(black_box(message))?;
                mp_wire::decode(&bytes, fds)?
            }
            "bytes" => {
                let mut slice = [0u8; 256];
                let len = mp_wire::encode_bytes_into_slice(black_box(message), &mut slice)?
                    .ok_or("the message does not fit in 256 bytes")?;
                mp_wire::decode_bytes(&slice[..len])?
            }
            "postcard" => {
                let bytes = postcard::to_allocvec(black_box(message))?;
                postcard::from_bytes(&bytes)?
            }
            other => return Err(format!("unknown codec {other}").into()),
        };
        assert_eq!(&back, message);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let codec = args.first().map_or("wire", String::as_str);
    let message = args.get(1).map_or("64k", String::as_str);
    let rounds = match args.get(2) {
        Some(rounds) => rounds.parse()?,
        None => 100,
    };
    let bytes: Vec<u8> = (0..64 << 10).map(|i| (i % 251) as u8).collect();
    match (codec, message) {
        ("memcpy", _) => {
            let mut target = vec![0u8; bytes.len()];
            for _ in 0..rounds {
                black_box(&mut target).copy_from_slice(black_box(&bytes));
            }
            assert_eq!(target, bytes);
            Ok(())
        }
        (_, "64k") => run(codec, &bytes, rounds),
        (_, "small") => run(
            codec,
            &SmallRecord {
                id: 42,
                name: "a small record".into(),
                values: (1..=8).collect(),
                flag: true,
                score: 0.5,
            },
            rounds,
        ),
        (_, "key16") => run(codec, &Key16(*b"sixteen bytes!!!"), rounds),
        (_, other) => Err(format!("unknown message {other}").into()),
    }
}
