//! libFuzzer target: `mp_faults::decode_targets::queue_records`, the same function the fault
//! suite's bounded stable run feeds (`cargo fuzz run queue_records` from `fuzz/`, nightly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mp_faults::decode_targets::queue_records(data));
