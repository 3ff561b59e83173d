#![no_main]
//! Harness: cogway_gateway::fuzzing::html_markup (see docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| cogway_gateway::fuzzing::html_markup(data));
