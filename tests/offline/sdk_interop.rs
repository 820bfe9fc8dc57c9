//! The emulator driven by a client no one here wrote: the official Huawei Cloud Python SDKs
//! (`tests/sdk/interop.py`). Every answer must be one the SDKs read: tasks created, listed
//! and deleted; each kind of error with the SDK's own parsed `error_code` and `error_msg`
//! (SWR, the API gateway, HSS, IAM); nested names as the SDK encodes them; a key of another
//! account; a wrong key locked after repeated failures; manual sync and its jobs; a tag
//! deleted (`delete_repo_tag`) and gone from the tag list and the state.

use serde_json::{json, Value};
use swr_sync_operator::auth::SecretString;
use swr_sync_operator::emulator::config::{AccessKeyConfig, DomainConfig};
use swr_sync_operator::emulator::{Emulator, EmulatorConfig, SwrErrorFormat};
use testkit::python::run_json;
use testkit::signed::{ACCESS_KEY, PROJECT_ID, SECRET_KEY};

const OTHER_AK: &str = "OTHERDOMAINKEY000001";
const LOCK_AK: &str = "LOCKEDKEY00000000001";
const OTHER_SK: &str = "other-domain-secret-key";
const LOCK_SK: &str = "lock-test-secret-key";

fn key(access_key: &str, secret_key: &str, domain: &str) -> AccessKeyConfig {
    AccessKeyConfig {
        access_key: access_key.into(),
        secret_key: SecretString::new(secret_key),
        security_token: None,
        domain: domain.into(),
        operations: None,
    }
}

fn config(format: SwrErrorFormat) -> EmulatorConfig {
    let mut config = EmulatorConfig::embedded_default();
    config.swr_error_format = format;
    config.domains.push(DomainConfig {
        name: "other-domain".into(),
        id: "ffffffffffffffffffffffffffffff00".into(),
    });
    config
        .access_keys
        .push(key(OTHER_AK, OTHER_SK, "other-domain"));
    config
        .access_keys
        .push(key(LOCK_AK, LOCK_SK, "example-domain"));
    config
}

/// Runs the script against a fresh emulator; returns its observations.
async fn observe(format: SwrErrorFormat, mode: &str) -> Value {
    let config = config(format);
    let setup = json!({
        "mode": mode,
        "ak": ACCESS_KEY, "sk": SECRET_KEY, "projectId": PROJECT_ID,
        "domainId": config.domains[0].id, "domain": "example-domain",
        "user": "swr-operator", "password": "s3cret!",
        "otherAk": OTHER_AK, "otherSk": OTHER_SK,
        "lockAk": LOCK_AK, "lockSk": LOCK_SK,
        "lockoutFailures": config.key_lockout_failures,
    });
    let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the emulator starts");
    let mut setup = setup;
    setup["endpoint"] = json!(emulator.base_url());
    tokio::task::spawn_blocking(move || run_json("tests/sdk/interop.py", &setup))
        .await
        .unwrap()
}

/// Asserts that the SDK parsed `code` from the error and a message that contains `words`.
fn parsed(out: &Value, case: &str, status: u16, code: &str, words: &str) {
    let c = &out[case];
    assert_eq!(c["status"], status, "{case}: {c}");
    assert_eq!(c["error_code"], code, "{case}: the SDK's error_code: {c}");
    let message = c["error_msg"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{case}: the SDK's error_msg: {c}");
    assert!(
        !message.starts_with('{'),
        "{case}: the SDK parsed the message: {c}"
    );
    assert!(
        c["request_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{case}: {c}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_sdks_read_every_answer() {
    let out = observe(SwrErrorFormat::Object, "full").await;

    assert_eq!(out["create"]["status"], 200, "{out}");
    let tasks = &out["list"]["body"]["body"];
    assert_eq!(tasks[0]["remote_region_id"], "cn-east-3", "{out}");
    // 200 and no tag failed (the SDK turns an empty list body into null).
    assert_eq!(out["manual_sync"]["status"], 200, "{out}");
    assert_eq!(out["manual_sync"]["body"]["body"], Value::Null, "{out}");
    let refused = &out["manual_sync_refused"];
    assert_eq!(refused["status"], 200, "{out}");
    assert_eq!(
        refused["body"]["body"],
        json!(["latest"]),
        "the failed tags: {out}"
    );
    // Newest first, as asked: the refused copy, then the one that went through.
    let jobs = &out["sync_jobs"]["body"];
    assert_eq!(jobs["body"][0]["tag"], "latest", "{out}");
    assert_eq!(jobs["body"][0]["status"], "failed", "{out}");
    assert_eq!(jobs["body"][1]["tag"], "1.25", "{out}");
    assert_eq!(jobs["content_range"], "0-2/2", "{out}");
    assert_eq!(out["delete"]["status"], 200, "{out}");

    // SWR's errors, parsed by the SDK from the object form.
    parsed(
        &out,
        "delete_again",
        400,
        "SVCSTG.SWR.4001158",
        "no sync task",
    );
    parsed(
        &out,
        "missing_repository",
        404,
        "SVCSTG.SWR.4040010",
        "does not exist",
    );
    parsed(
        &out,
        "other_domain",
        403,
        "SVCSTG.SWR.4030170",
        "Insufficient permissions",
    );
    // Nested names as the SDK sends them (%2F, %24): signed and routed alike.
    assert_eq!(out["nested_slash"]["status"], 200, "{out}");
    assert_eq!(out["nested_dollar"]["status"], 200, "{out}");

    // DeleteRepoTag: 204 and no body (api-swr `swr_02_0036`), the tag gone from the SDK's
    // list and the emulator's state; only that tag, and not by another account's key.
    let tag_names = |case: &str| -> Vec<String> {
        let body = &out[case]["body"]["body"];
        assert_eq!(out[case]["status"], 200, "{case}: {out}");
        let tags = body.as_array().map(Vec::as_slice).unwrap_or_default();
        tags.iter()
            .map(|t| t["tag"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(tag_names("tags_before"), ["1.25", "latest"], "{out}");
    assert_eq!(out["delete_tag"]["status"], 204, "{out}");
    assert_eq!(out["delete_tag"]["body"], json!({}), "no fields: {out}");
    parsed(
        &out,
        "delete_tag_other_domain",
        403,
        "SVCSTG.SWR.4030170",
        "Insufficient permissions",
    );
    assert_eq!(tag_names("tags_after"), ["latest"], "{out}");
    assert_eq!(out["state_tags_after"], json!(["latest"]), "{out}");
    // A tag or repository that is not there: SWR's 404 "image not found".
    parsed(
        &out,
        "delete_tag_again",
        404,
        "SVCSTG.SWR.4040010",
        "tag 1.25 does not exist",
    );
    parsed(
        &out,
        "delete_tag_missing_repository",
        404,
        "SVCSTG.SWR.4040010",
        "does not exist",
    );
    // A nested repository as the SDK sends it (team%2Fapi).
    assert_eq!(out["delete_tag_nested"]["status"], 204, "{out}");
    assert!(tag_names("tags_nested_after").is_empty(), "{out}");
    assert_eq!(out["state_tags_nested_after"], json!([]), "{out}");
    assert_eq!(
        out["delete_tag_calls"],
        json!({"204": 2, "403": 1, "404": 2}),
        "counted as swr.delete_repo_tag: {out}"
    );

    // The gateway's errors.
    // A 429 never reaches the SDK's error parser: its HTTP adapter (urllib3 `Retry` with
    // 429 in `status_forcelist`, `retry_times` 0) turns it into "too many 429 error
    // responses" first; tests/offline/emulator_faults.rs checks the gateway's body itself.
    let throttled = &out["throttled"];
    assert_eq!(throttled["status"], 429, "{out}");
    assert_eq!(throttled["error_code"], "429", "{out}");
    let message = throttled["error_msg"].as_str().unwrap_or_default();
    assert!(message.contains("too many 429 error responses"), "{out}");
    for (i, refused) in out["wrong_secret"].as_array().unwrap().iter().enumerate() {
        let case = json!({"wrong": refused});
        parsed(
            &case,
            "wrong",
            401,
            "APIGW.0301",
            "Incorrect IAM authentication",
        );
        assert!(
            !refused.to_string().contains("not-the-secret-key"),
            "attempt {i}"
        );
    }
    parsed(
        &out,
        "locked",
        401,
        "APIGW.0301",
        "AK access failed to reach the limit",
    );

    // HSS and IAM.
    assert_eq!(out["hss"]["status"], 200, "{out}");
    assert_eq!(out["hss"]["body"]["error_code"], 0, "{out}");
    parsed(&out, "hss_other_project", 400, "HSS.0010", "Access denied");
    assert_eq!(
        out["iam_login"],
        json!({"status": 201, "has_token": true, "project": "cn-north-4"}),
        "{out}"
    );
    let wrong = &out["iam_wrong_password"];
    assert_eq!(wrong["status"], 401, "{out}");
    assert_eq!(
        wrong["error_msg"], "The username or password is wrong.",
        "{out}"
    );
    let projects = &out["iam_projects"]["body"]["projects"];
    assert_eq!(projects[0]["name"], "cn-north-4", "{out}");
}

/// Older regions answer SWR errors as a top-level array, which the SDKs cannot parse: they
/// fall back to the bare status and the raw body. The operator's client reads both forms
/// (`cloud::error::parse_error_body`); this shows why the object form is the default.
#[tokio::test(flavor = "multi_thread")]
async fn the_legacy_array_form_is_what_the_sdks_cannot_parse() {
    let out = observe(SwrErrorFormat::Array, "legacy").await;
    let c = &out["delete_missing"];
    assert_eq!(c["status"], 400, "{out}");
    assert_eq!(c["error_code"], "400", "{out}");
    let raw: Value = serde_json::from_str(c["error_msg"].as_str().unwrap()).unwrap();
    assert_eq!(raw[0]["errorCode"], "SVCSTG.SWR.4001158", "{out}");
}
