#![no_main]
//! Harness: cogway_gateway::fuzzing::ssml_parse (see docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| cogway_gateway::fuzzing::ssml_parse(data));
