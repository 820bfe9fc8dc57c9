//! libFuzzer entry point: successful response bodies decoded into every response model
//! type through `CloudResponse::json`. The checks live in `fuzz/src/lib.rs`, shared with the
//! stable test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swr_sync_operator_fuzz::responses(data));
