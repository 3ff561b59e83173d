#![no_main]
//! Harness: cogway_gateway::fuzzing::lexicon_apply (see docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| cogway_gateway::fuzzing::lexicon_apply(data));
