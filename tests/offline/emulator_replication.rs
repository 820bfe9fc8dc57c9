//! Pushing a tag (admin API) replicates it through the repository's auto-sync tasks, honouring
//! `override`, one hop only, and leaves sync job records that page like SWR's.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use swr_sync_operator::emulator::EmulatorConfig;
use testkit::signed::{admin, read, start, Signed};

const NGINX: &str = "/v2/manage/namespaces/platform/repos/nginx";

async fn task(swr: &Signed, region: &str, sync_auto: bool, override_existing: bool) {
    let body = json!({"remoteRegionId": region, "remoteNamespace": "platform-dr",
        "syncAuto": sync_auto, "override": override_existing});
    let answer = swr.post(&format!("{NGINX}/sync_repo"), &body).await;
    assert_eq!(answer.status(), StatusCode::OK);
}

async fn push(swr: &Signed, region: &str, org: &str, tag: &str, digest: &str) -> Value {
    let body = json!({"region": region, "organization": org, "repository": "nginx",
        "tag": tag, "digest": digest});
    let (status, answer) = admin(&swr.base, Method::POST, "push", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// The digest of `tag` in `region`'s platform-dr/nginx, if it is there.
async fn replica(swr: &Signed, region: &str, tag: &str) -> Option<String> {
    let target = format!("/{region}/v2/manage/namespaces/platform-dr/repos/nginx/tags");
    let (status, tags) = read(swr.get(&target).await).await;
    if status == StatusCode::NOT_FOUND {
        return None;
    }
    tags.as_array()?
        .iter()
        .find(|t| t["Tag"] == tag)
        .map(|t| t["digest"].as_str().unwrap().to_string())
}

fn statuses(jobs: &Value) -> Vec<(String, String)> {
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let s = |k: &str| j[k].as_str().unwrap().to_string();
            (s("remoteRegionId"), s("status"))
        })
        .collect()
}

#[tokio::test]
async fn push_replicates_through_auto_sync_tasks_honouring_override() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    task(&swr, "cn-east-3", true, false).await;
    task(&swr, "ap-southeast-1", true, true).await;

    let answer = push(&swr, "cn-north-4", "platform", "2.0", "sha256:one").await;
    assert_eq!(
        statuses(&answer["jobs"]),
        [
            ("cn-east-3".into(), "success".into()),
            ("ap-southeast-1".into(), "success".into())
        ]
    );
    for region in ["cn-east-3", "ap-southeast-1"] {
        assert_eq!(
            replica(&swr, region, "2.0").await.as_deref(),
            Some("sha256:one")
        );
    }
    // The same image again: nothing to copy.
    let answer = push(&swr, "cn-north-4", "platform", "2.0", "sha256:one").await;
    assert!(
        statuses(&answer["jobs"])
            .iter()
            .all(|(_, s)| s == "existed"),
        "{answer}"
    );
    // The tag moves: only the override task overwrites.
    let answer = push(&swr, "cn-north-4", "platform", "2.0", "sha256:two").await;
    assert_eq!(
        statuses(&answer["jobs"]),
        [
            ("cn-east-3".into(), "failed".into()),
            ("ap-southeast-1".into(), "success".into())
        ]
    );
    assert_eq!(
        replica(&swr, "cn-east-3", "2.0").await.as_deref(),
        Some("sha256:one")
    );
    assert_eq!(
        replica(&swr, "ap-southeast-1", "2.0").await.as_deref(),
        Some("sha256:two")
    );
}

#[tokio::test]
async fn tasks_without_sync_auto_do_not_replicate() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    task(&swr, "cn-east-3", false, true).await;
    let answer = push(&swr, "cn-north-4", "platform", "2.0", "sha256:one").await;
    assert_eq!(answer["jobs"], json!([]));
    assert_eq!(replica(&swr, "cn-east-3", "2.0").await, None);
    let jobs = format!("{NGINX}/sync_job?filter=limit::10|offset::0");
    let (_, jobs) = read(swr.get(&jobs).await).await;
    assert_eq!(jobs, json!([]));
}

#[tokio::test]
async fn replication_is_one_hop() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    task(&swr, "cn-east-3", true, false).await;
    // cn-east-3's copy has its own task on to ap-southeast-1; a replicated tag does not use it.
    push(&swr, "cn-east-3", "platform-dr", "seed", "sha256:seed").await;
    let east = "/cn-east-3/v2/manage/namespaces/platform-dr/repos/nginx/sync_repo";
    let onward = json!({"remoteRegionId": "ap-southeast-1", "remoteNamespace": "platform-dr",
        "syncAuto": true});
    assert_eq!(swr.post(east, &onward).await.status(), StatusCode::OK);
    push(&swr, "cn-north-4", "platform", "2.0", "sha256:one").await;
    assert_eq!(
        replica(&swr, "cn-east-3", "2.0").await.as_deref(),
        Some("sha256:one")
    );
    assert_eq!(replica(&swr, "ap-southeast-1", "2.0").await, None);
}

#[tokio::test]
async fn sync_jobs_page_in_the_order_asked() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    task(&swr, "cn-east-3", true, false).await;
    for (i, tag) in ["a", "b", "c"].iter().enumerate() {
        push(&swr, "cn-north-4", "platform", tag, &format!("sha256:{i}")).await;
    }
    let page = |filter: &str| {
        let target = format!("{NGINX}/sync_job?filter={filter}");
        let swr = swr.clone();
        async move { swr.get(&target).await }
    };
    let tags = |jobs: &serde_json::Value| -> Vec<String> {
        let jobs = jobs.as_array().unwrap().iter();
        jobs.map(|j| j["tag"].as_str().unwrap().to_string())
            .collect()
    };
    let second = page("limit::2|offset::2|order::desc").await;
    assert_eq!(
        second.headers()["content-range"],
        "2-1/3",
        "offset-count/total"
    );
    assert_eq!(tags(&read(second).await.1), ["a"]);
    let oldest = page("order::asc|limit::2|offset::0").await;
    assert_eq!(oldest.headers()["content-range"], "0-2/3");
    assert_eq!(tags(&read(oldest).await.1), ["a", "b"]);
    let (_, jobs) = read(page("limit::1|offset::0|order::desc").await).await;
    assert_eq!(tags(&jobs), ["c"]);
    assert_eq!(jobs[0]["syncOperatorName"], "auto-sync");
    assert_eq!(jobs[0]["namespace"], "platform");
    assert_eq!(jobs[0]["remoteNamespace"], "platform-dr");
}

#[tokio::test]
async fn pushes_need_an_existing_organization_and_valid_names() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let table = [
        (
            json!({"region": "cn-north-4", "organization": "ghost", "repository": "x",
                "tag": "v1"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"region": "mars-1", "organization": "platform", "repository": "x", "tag": "v1"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"region": "cn-north-4", "organization": "platform", "repository": "Bad",
                "tag": "v1"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"region": "cn-north-4", "organization": "platform", "repository": "x",
                "tag": ".v1"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"region": "cn-north-4", "organization": "platform", "repository": "x"}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (body, status) in table {
        let (got, answer) = admin(&swr.base, Method::POST, "push", Some(body.clone())).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    // A new repository; without a digest the push is a fresh image.
    let body = json!({"region": "cn-north-4", "organization": "platform",
        "repository": "new/app", "tag": "v1"});
    let (_, first) = admin(&swr.base, Method::POST, "push", Some(body.clone())).await;
    let (_, second) = admin(&swr.base, Method::POST, "push", Some(body)).await;
    assert_ne!(first["digest"], second["digest"]);
    let (status, tags) = read(
        swr.get("/v2/manage/namespaces/platform/repos/new%24app/tags")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags[0]["digest"], second["digest"]);
}
