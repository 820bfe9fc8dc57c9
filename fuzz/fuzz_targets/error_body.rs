//! libFuzzer entry point: error bodies (`parse_error_body`, `ApiError::from_response`,
//! `Retry-After`). The checks live in `fuzz/src/lib.rs`, shared with the stable test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swr_sync_operator_fuzz::error_body(data));
