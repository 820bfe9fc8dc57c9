//! Stable replay of the fuzz targets in `fuzz/`: every seed corpus file, then a fixed set of
//! seeded mutations of them, through the very functions the libFuzzer binaries call. The
//! parsers' invariants are so checked on every `cargo test`, without nightly or libFuzzer;
//! `hack/fuzz.sh` is the coverage-guided search that grows the corpus.

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swr_sync_operator::cloud::error::{parse_error_body, RAW_BODY_LIMIT};
use swr_sync_operator::cloud::{ApiError, ErrorClass};

/// Fixed, so a failure names an input that the next run rebuilds identically.
const SEED: u64 = 0x5357_5246_757a_7a01;
/// Mutated inputs per run, each fed to every target.
const MUTATIONS: usize = 20_000;
/// Longest mutated input: past the raw body limit, small enough to keep the run short.
const MAX_LEN: usize = 16 << 10;

/// Fragments a mutation may insert: JSON syntax, the keys the parsers look for, numbers at
/// the edges of `i64`/`f64`, escapes and broken UTF-8.
const TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b",",
    b":",
    b"null",
    b"true",
    b"-",
    b" ",
    b"0",
    b"1e999",
    b"-0.0",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"\\u",
    b"\\ud800",
    b"\\udc00",
    b"\\\"",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\xa6",
    "\u{feff}".as_bytes(),
    b"\"errorCode\":",
    b"\"errorMessage\":",
    b"\"error_code\":",
    b"\"error_msg\":",
    b"\"error_description\":",
    b"\"errors\":[",
    b"\"error\":{",
    b"\"code\":",
    b"\"message\":",
    b"\"id\":",
    b"\"Tag\":",
    b"\"regionID\":",
    b"\"namespaces\":[",
    b"\"projects\":[",
    b"\"token\":{",
    b"\"expires_at\":\"2026-05-02T08:00:00Z\"",
    b"\"override\":",
    b"\"domainID\":",
];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

/// A target's seed corpus, in name order so the mutations do not depend on the file system.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect()
}

/// Runs `target` on `input`; on a failed invariant, saves the input where the message says
/// before failing, so it can be replayed with the fuzz binary or added to the corpus.
fn run(name: &str, target: targets::Target, label: &str, input: &[u8]) {
    if std::panic::catch_unwind(|| target(input)).is_err() {
        let path = std::env::temp_dir().join(format!("fuzz_parsers-{name}-{label}.bin"));
        std::fs::write(&path, input).expect("saving the failing input");
        panic!(
            "target {name} failed on {label} ({} bytes), saved to {}",
            input.len(),
            path.display()
        );
    }
}

#[test]
fn every_target_passes_every_seed() {
    for (name, _) in targets::TARGETS {
        let seeds = corpus(name);
        assert!(seeds.len() >= 30, "{name} has only {} seeds", seeds.len());
        // Both targets read every seed: an error body is also a hostile response, and back.
        for (target_name, target) in targets::TARGETS {
            for (file, input) in &seeds {
                run(target_name, target, &format!("{name}-{file}"), input);
            }
        }
    }
}

/// One random edit of `input`; `others` are splice partners.
fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, others: &[Vec<u8>]) {
    let at = |rng: &mut StdRng, len: usize| rng.gen_range(0..=len);
    match rng.gen_range(0..9) {
        0 if !input.is_empty() => {
            let i = rng.gen_range(0..input.len());
            input[i] ^= 1 << rng.gen_range(0..8);
        }
        1 if !input.is_empty() => {
            let i = rng.gen_range(0..input.len());
            input[i] = match rng.gen_range(0..4) {
                0 => rng.gen(),
                1 => b'"',
                2 => b'0' + rng.gen_range(0..10),
                _ => {
                    let syntax = b"[]{},:\\ \n\0";
                    syntax[rng.gen_range(0..syntax.len())]
                }
            };
        }
        2 => {
            let len = at(rng, input.len());
            input.truncate(len);
        }
        3 => {
            let i = at(rng, input.len());
            let token = TOKENS[rng.gen_range(0..TOKENS.len())];
            input.splice(i..i, token.iter().copied());
        }
        4 => {
            let i = at(rng, input.len());
            let bytes: Vec<u8> = (0..rng.gen_range(1..8)).map(|_| rng.gen()).collect();
            input.splice(i..i, bytes);
        }
        5 if !input.is_empty() => {
            let start = rng.gen_range(0..input.len());
            let end = rng.gen_range(start..=input.len().min(start + 64));
            input.drain(start..end);
        }
        6 if !input.is_empty() => {
            // Repeats a slice: long strings, long lists, deep nesting.
            let start = rng.gen_range(0..input.len());
            let end = rng.gen_range(start..=input.len().min(start + 32));
            let copies = rng.gen_range(1..64);
            let chunk = input[start..end].repeat(copies);
            let i = at(rng, input.len());
            input.splice(i..i, chunk);
        }
        7 | 8 => {
            let other = &others[rng.gen_range(0..others.len())];
            let keep = at(rng, input.len());
            let from = at(rng, other.len());
            input.truncate(keep);
            input.extend_from_slice(&other[from..]);
        }
        _ => input.push(rng.gen()),
    }
    input.truncate(MAX_LEN);
}

#[test]
fn every_target_passes_seeded_mutations() {
    let seeds: Vec<Vec<u8>> = targets::TARGETS
        .iter()
        .flat_map(|(name, _)| corpus(name))
        .map(|(_, bytes)| bytes)
        .collect();
    let mut rng = StdRng::seed_from_u64(SEED);
    let started = Instant::now();
    let mut bytes = 0;
    for i in 0..MUTATIONS {
        let mut input = seeds[rng.gen_range(0..seeds.len())].clone();
        for _ in 0..rng.gen_range(1..=4) {
            mutate(&mut rng, &mut input, &seeds);
        }
        bytes += input.len();
        for (name, target) in targets::TARGETS {
            run(name, target, &format!("mutation-{i}"), &input);
        }
    }
    eprintln!(
        "{MUTATIONS} mutated inputs ({bytes} bytes) through {} targets in {:?}",
        targets::TARGETS.len(),
        started.elapsed()
    );
}

/// Inputs that once broke an invariant, or sit on an edge the invariants care about.
#[test]
fn regressions() {
    let cases: Vec<Vec<u8>> = vec![
        // Multi-byte chars straddling the raw body limit: the cut must fall on a boundary.
        [vec![b'a'; RAW_BODY_LIMIT - 1], "é€🦀".as_bytes().to_vec()].concat(),
        [vec![b'a'; RAW_BODY_LIMIT - 2], "🦀🦀".as_bytes().to_vec()].concat(),
        // Invalid UTF-8 grows threefold when replaced, past the limit from a shorter body.
        vec![0xff; RAW_BODY_LIMIT / 3 + 1],
        // Nesting past serde_json's recursion limit, in both parsers.
        vec![b'['; 10_000],
        [b"{\"errors\":".repeat(200), b"[]".to_vec()].concat(),
        // Numbers out of range, where the code or an id is expected.
        br#"{"error_code":1e999,"error_msg":"x"}"#.to_vec(),
        br#"[{"id":9223372036854775808,"Tag":"t","digest":"d"}]"#.to_vec(),
        // Extreme timestamps in an IAM token.
        br#"{"token":{"expires_at":"+262143-12-31T23:59:59.999999999Z"}}"#.to_vec(),
        br#"{"token":{"expires_at":"-262143-01-01T00:00:00Z"}}"#.to_vec(),
        // libFuzzer's first find (error_body, by hand from its 1,702-byte minimised crash):
        // the message of a body that is not JSON was its whole text, and invalid UTF-8
        // triples in the lossy conversion, so the error printed 4.5 KB from 1.5 KB.
        vec![0xff; 1500],
        // A gateway's page, printed whole into the status before messages were cut.
        format!("<html>{}</html>", "Service Unavailable. ".repeat(400)).into_bytes(),
        // A decoder quotes the string it could not read as an id, escaped sixfold.
        format!(
            r#"[{{"id":"{}","Tag":"t","digest":"d"}}]"#,
            r"\u0001".repeat(3000)
        )
        .into_bytes(),
        // Retry-After at the edge of u64, and past it.
        b"18446744073709551615".to_vec(),
        b"+18446744073709551616".to_vec(),
    ];
    for (i, input) in cases.iter().enumerate() {
        for (name, target) in targets::TARGETS {
            run(name, target, &format!("regression-{i}"), input);
        }
    }
}

// The checks must be able to fail: each of these feeds one a result that breaks its rule.

#[test]
#[should_panic(expected = "bytes of raw body")]
fn an_unbounded_raw_body_fails_the_check() {
    let body = vec![b'x'; 3 * RAW_BODY_LIMIT];
    let parsed = parse_error_body(&body);
    let mut error = ApiError::from_response(targets::OPERATION, 503, None, None, &body);
    error.evidence.raw_body = String::from_utf8(body.clone()).unwrap();
    targets::check_api_error(&body, 503, None, None, &parsed, &error);
}

#[test]
#[should_panic(expected = "a code read from a body that is not JSON")]
fn a_code_from_plain_text_fails_the_check() {
    let parsed = (Some("X".to_string()), Some("oops".to_string()));
    targets::check_error_body(b"oops", &parsed);
}

#[test]
#[should_panic(expected = "server_error")]
fn a_misclassified_decode_error_fails_the_check() {
    let error = ApiError::without_response(
        targets::OPERATION,
        ErrorClass::Server,
        format!("{}expected value", targets::UNEXPECTED_BODY),
    );
    targets::check_decode_error(&error);
}

#[test]
#[should_panic(expected = "Retry-After")]
fn a_misread_retry_after_fails_the_check() {
    targets::check_retry_after("12", Some(Duration::from_secs(21)));
}
