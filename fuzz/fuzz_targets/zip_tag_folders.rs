#![no_main]
//! Harness: cogway_gateway::fuzzing::zip_tag_folders (see docs/fuzzing.md).

libfuzzer_sys::fuzz_target!(|data: &[u8]| cogway_gateway::fuzzing::zip_tag_folders(data));
