#![no_main]
//! Harness: cogway_gateway::fuzzing::image_decode (see docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| cogway_gateway::fuzzing::image_decode(data));
