#![no_main]
//! Harness: cogway_gateway::fuzzing::audio_decode (see docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| cogway_gateway::fuzzing::audio_decode(data));
