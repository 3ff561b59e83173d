#![no_main]
//! Harness: cogway_gateway::fuzzing::request_json (see docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| cogway_gateway::fuzzing::request_json(data));
