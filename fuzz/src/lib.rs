//! The fuzz targets' logic: bytes fed to the operator's cloud error-body and response
//! parsers, and the invariants the results must keep. The libFuzzer binaries in
//! `fuzz/fuzz_targets/` and the stable replay test `tests/offline/fuzz_parsers.rs` (which
//! includes this file with `#[path]`) both call these functions, so both check exactly the
//! same thing.

use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use swr_sync_operator::auth::iam::{ProjectList, TokenBody};
use swr_sync_operator::cloud::error::{parse_error_body, MESSAGE_LIMIT, RAW_BODY_LIMIT};
use swr_sync_operator::cloud::transport::{parse_retry_after, RetryPolicy};
use swr_sync_operator::cloud::{ApiError, CloudResponse, ErrorClass};
use swr_sync_operator::hss::SynchronizeResult;
use swr_sync_operator::swr::model::{
    OrganizationList, RegionInfo, Repository, SyncJob, SyncTask, Tag,
};

/// Operation name of every call the targets simulate.
pub const OPERATION: &str = "fuzz.parse";

/// A fuzz target: panics when its input breaks an invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its binary and of its corpus directory `fuzz/corpus/<name>`.
pub const TARGETS: [(&str, Target); 2] = [("error_body", error_body), ("responses", responses)];

/// Prefix of the message of a response body that does not decode.
pub const UNEXPECTED_BODY: &str = "unexpected response body: ";

/// Most an error may print, besides its request id, whatever the body: the reconciler writes
/// errors into status conditions and events, which a megabyte-sized error page must not
/// flood, let alone push past the API server's request size limit.
pub const DISPLAY_LIMIT: usize = 2 * RAW_BODY_LIMIT + 256;

/// Error statuses the cloud services really send.
const STATUSES: [u16; 12] = [400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504];

/// Keys `parse_error_body` reads a code from.
const CODE_KEYS: [&str; 3] = ["errorCode", "error_code", "code"];
/// Keys `parse_error_body` reads a message from.
const MESSAGE_KEYS: [&str; 4] = ["errorMessage", "error_msg", "message", "error_description"];

/// `data` as the body of an error response: parsed, then classified under a status and
/// request id derived from the same bytes. Its text is also read as a `Retry-After` value,
/// which the transport passes to the retry policy and into the error.
pub fn error_body(data: &[u8]) {
    let parsed = parse_error_body(data);
    check_error_body(data, &parsed);
    let header = std::str::from_utf8(data).ok();
    let retry_after = header.and_then(parse_retry_after);
    if let Some(value) = header {
        check_retry_after(value, retry_after);
    }
    check_backoff(retry_after);
    let (status, request_id) = derive(data);
    let error = ApiError::from_response(OPERATION, status, request_id.clone(), retry_after, data);
    check_api_error(
        data,
        status,
        request_id.as_deref(),
        retry_after,
        &parsed,
        &error,
    );
}

/// `data` as the body of a successful response, decoded into every response model type
/// through `CloudResponse::json`, the path the SWR, HSS and IAM clients take.
pub fn responses(data: &[u8]) {
    let response = CloudResponse {
        operation: OPERATION,
        status: 200,
        headers: HeaderMap::new(),
        body: Bytes::copy_from_slice(data),
    };
    round_trips::<Vec<SyncTask>>(&response);
    round_trips::<Vec<SyncJob>>(&response);
    round_trips::<Vec<RegionInfo>>(&response);
    round_trips::<OrganizationList>(&response);
    round_trips::<Vec<Repository>>(&response);
    round_trips::<Vec<Tag>>(&response);
    round_trips::<SynchronizeResult>(&response);
    // IAM's bodies only decode; there is nothing to compare a re-encoding with.
    decode::<TokenBody>(&response);
    decode::<ProjectList>(&response);
}

/// A status and request id that vary with the input, so every class is exercised without
/// spending input bytes (the seed corpus stays plain bodies).
fn derive(data: &[u8]) -> (u16, Option<String>) {
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    // One input in sixteen gets any status at all, as a broken gateway might send.
    let status = if hash & 0xf == 0 {
        (hash >> 16) as u16
    } else {
        STATUSES[(hash >> 4) as usize % STATUSES.len()]
    };
    let request_id = (hash & 0x100 != 0).then(|| format!("{hash:016x}"));
    (status, request_id)
}

/// What `parse_error_body` read from `data`: a code only from JSON (after a byte-order
/// mark, if any), the trimmed text as the message of anything else, and never an empty
/// string.
pub fn check_error_body(data: &[u8], parsed: &(Option<String>, Option<String>)) {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let (code, message) = parsed;
    assert!(
        code.as_ref().is_none_or(|c| !c.is_empty()),
        "empty code from {data:?}"
    );
    assert!(
        message.as_ref().is_none_or(|m| !m.is_empty()),
        "empty message from {data:?}"
    );
    match serde_json::from_slice::<Value>(data) {
        Err(_) => {
            assert_eq!(code, &None, "a code read from a body that is not JSON");
            let text = String::from_utf8_lossy(data);
            let text = text.trim();
            assert_eq!(
                message.as_deref(),
                (!text.is_empty()).then_some(text),
                "the message of a body that is not JSON is its text"
            );
        }
        Ok(value) => {
            let has_object = match &value {
                Value::Array(items) => !items.is_empty(),
                Value::Object(_) => true,
                _ => false,
            };
            if !has_object {
                assert_eq!(parsed, &(None, None), "read from {value}");
            }
            // The error object is the body, its first item, or sits under `errors`/`error`:
            // never more than two levels down.
            if let Some(code) = code {
                assert!(
                    found(&value, &CODE_KEYS, code, 2),
                    "code {code:?} not in {value}"
                );
            }
            if let Some(message) = message {
                assert!(
                    found(&value, &MESSAGE_KEYS, message, 2),
                    "message {message:?} not in {value}"
                );
            }
        }
    }
}

/// Whether an object in `value`, at most `depth` levels down, holds `want` under one of
/// `keys`, as a string or as a number's text.
fn found(value: &Value, keys: &[&str], want: &str, depth: u8) -> bool {
    let here = value.as_object().is_some_and(|map| {
        keys.iter().any(|key| match map.get(*key) {
            Some(Value::String(s)) => s == want,
            Some(Value::Number(n)) => n.to_string() == want,
            _ => false,
        })
    });
    here || (depth > 0
        && match value {
            Value::Array(items) => items.iter().any(|v| found(v, keys, want, depth - 1)),
            Value::Object(map) => map.values().any(|v| found(v, keys, want, depth - 1)),
            _ => false,
        })
}

/// What `parse_retry_after` read from a header value: delay-seconds as they are (an
/// optional `+`, surrounding whitespace, no more than fits in a `u64`); an HTTP date as the
/// wait until then, which is zero once it has passed and can never be more than the date
/// is away from now; nothing from anything else.
pub fn check_retry_after(value: &str, parsed: Option<Duration>) {
    let digits = value.trim();
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let expected = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits
            .bytes()
            .try_fold(0u64, |n, b| {
                n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
            })
            .map(Duration::from_secs)
    } else if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value.trim()) {
        let most = (at.to_utc() - chrono::Utc::now())
            .to_std()
            .unwrap_or_default();
        assert!(
            parsed.is_some_and(|wait| wait <= most + Duration::from_secs(1)),
            "Retry-After {value:?}: {parsed:?}, at most {most:?}"
        );
        parsed
    } else {
        None
    };
    assert_eq!(parsed, expected, "Retry-After {value:?}");
}

/// The retry policy never waits less than `Retry-After` nor longer than its cap, gives up on
/// a `Retry-After` beyond the cap, and stops after its last retry.
pub fn check_backoff(retry_after: Option<Duration>) {
    let policy = RetryPolicy::default();
    match (retry_after, policy.backoff(0, retry_after)) {
        (Some(after), None) => assert!(after > policy.max_backoff, "gave up on {after:?}"),
        (Some(after), Some(wait)) => assert!(
            after <= policy.max_backoff && after <= wait && wait <= policy.max_backoff,
            "waits {wait:?} for Retry-After {after:?}"
        ),
        (None, Some(wait)) => assert!(wait <= policy.max_backoff, "waits {wait:?}"),
        (None, None) => panic!("the first retry refused without Retry-After"),
    }
    assert_eq!(policy.backoff(policy.max_retries, retry_after), None);
}

/// The error built from an error response: classified by status, carrying the parsed code
/// and message cut to [`MESSAGE_LIMIT`] and the raw body cut to [`RAW_BODY_LIMIT`] (see
/// [`check_cut`]), and printing all of it within [`DISPLAY_LIMIT`].
pub fn check_api_error(
    data: &[u8],
    status: u16,
    request_id: Option<&str>,
    retry_after: Option<Duration>,
    parsed: &(Option<String>, Option<String>),
    error: &ApiError,
) {
    let (code, message) = parsed;
    assert_eq!(error.class, ErrorClass::from_status(status));
    assert_eq!(
        error.class.is_retryable(),
        status == 429 || (500..600).contains(&status),
        "retryability of HTTP {status}"
    );
    assert_eq!(error.operation, OPERATION);
    assert_eq!(error.status, Some(status));
    assert_eq!(error.retry_after, retry_after);
    let evidence = &error.evidence;
    assert_eq!(evidence.request_id.as_deref(), request_id);
    assert_eq!(evidence.code.is_some(), code.is_some());
    if let (Some(full), Some(kept)) = (code, &evidence.code) {
        check_cut("code", full, kept, MESSAGE_LIMIT);
        assert!(error.has_code(kept));
    }
    let full_message = message.as_deref().unwrap_or_default();
    check_cut("message", full_message, &evidence.message, MESSAGE_LIMIT);
    let text = String::from_utf8_lossy(data);
    check_cut("raw body", &text, &evidence.raw_body, RAW_BODY_LIMIT);

    let shown = error.to_string();
    let head = format!("{OPERATION}: {} (HTTP {status})", error.class);
    let rest = shown
        .strip_prefix(&head)
        .unwrap_or_else(|| panic!("{shown:?} does not start with {head:?}"));
    if let Some(code) = &evidence.code {
        assert!(
            rest.starts_with(&format!(" {code}")),
            "{shown:?} lacks {code:?}"
        );
    }
    if !evidence.message.is_empty() {
        assert!(
            rest.contains(&format!(": {}", evidence.message)),
            "{shown:?} lacks the message"
        );
    }
    if let Some(id) = request_id {
        assert!(shown.ends_with(&format!(" [request id {id}]")), "{shown:?}");
    }
    check_display_bounded(error);
}

/// `kept` is `full` if that fits in `limit` bytes, else the longest prefix of it that fits
/// and ends on a char boundary, followed by `…`.
pub fn check_cut(what: &str, full: &str, kept: &str, limit: usize) {
    assert!(
        kept.len() <= limit + '…'.len_utf8(),
        "kept {} bytes of {what}",
        kept.len()
    );
    if full.len() <= limit {
        assert_eq!(kept, full, "a short {what} is kept whole");
        return;
    }
    let kept = kept
        .strip_suffix('…')
        .unwrap_or_else(|| panic!("a cut {what} ends with …"));
    assert!(full.starts_with(kept), "the kept {what} is a prefix of it");
    let next = full[kept.len()..]
        .chars()
        .next()
        .expect("something was cut");
    assert!(
        kept.len() <= limit && kept.len() + next.len_utf8() > limit,
        "{what} cut at {} bytes, before a char of {}",
        kept.len(),
        next.len_utf8()
    );
}

/// [`DISPLAY_LIMIT`] holds.
pub fn check_display_bounded(error: &ApiError) {
    let shown = error.to_string();
    let id = error.evidence.request_id.as_deref().map_or(0, str::len);
    assert!(
        shown.len() <= DISPLAY_LIMIT + id,
        "the error prints {} bytes: {:?}…",
        shown.len(),
        shown.chars().take(200).collect::<String>()
    );
}

/// Decodes as the clients do, checking a failure is the error they pass on.
fn decode<T: DeserializeOwned>(response: &CloudResponse) -> Option<T> {
    match response.json::<T>() {
        Ok(value) => Some(value),
        Err(error) => {
            check_decode_error(&error);
            None
        }
    }
}

/// A model that decoded encodes and decodes again to itself: nothing read is lost or
/// misnamed between the wire names and the fields.
fn round_trips<T: DeserializeOwned + Serialize + PartialEq + Debug>(response: &CloudResponse) {
    if let Some(value) = decode::<T>(response) {
        let bytes = serde_json::to_vec(&value).expect("decoded models encode");
        let again: T = serde_json::from_slice(&bytes).expect("encoded models decode");
        assert_eq!(again, value);
    }
}

/// A body that does not decode is an unexpected response without HTTP evidence, whose
/// message says so and names the decoder's complaint.
pub fn check_decode_error(error: &ApiError) {
    assert_eq!(error.class, ErrorClass::UnexpectedResponse, "{error}");
    assert_eq!(error.operation, OPERATION);
    assert_eq!(error.status, None);
    assert_eq!(error.retry_after, None);
    let evidence = &error.evidence;
    let reason = evidence
        .message
        .strip_prefix(UNEXPECTED_BODY)
        .unwrap_or_else(|| panic!("message {:?}", evidence.message));
    assert!(!reason.is_empty(), "no reason given");
    assert!(
        evidence.message.len() <= MESSAGE_LIMIT + '…'.len_utf8(),
        "kept {} bytes of message",
        evidence.message.len()
    );
    assert_eq!(evidence.code, None);
    assert_eq!(evidence.request_id, None);
    assert!(evidence.raw_body.is_empty());
    assert_eq!(
        error.to_string(),
        format!("{OPERATION}: unexpected_response: {}", evidence.message)
    );
    check_display_bounded(error);
}
