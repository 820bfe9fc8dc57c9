//! The emulated SWR API over HTTP: validation and error bodies, sync task create/list/delete,
//! manual sync and its jobs, the listings with paging, the repository listing's filters,
//! orders and page rules, and region routing.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use swr_sync_operator::emulator::EmulatorConfig;
use testkit::signed::{admin, read, start, Signed};

const NGINX: &str = "/v2/manage/namespaces/platform/repos/nginx";

fn dr(region: &str) -> Value {
    json!({"remoteRegionId": region, "remoteNamespace": "platform-dr"})
}

/// The code of an SWR error body in its current form (api-swr `ErrorCode.html`), after
/// checking that form: the `errors` list and the top-level fields the SDKs read agree.
fn error_code(body: &Value) -> &str {
    let entry = &body["errors"][0];
    assert_eq!(entry["detail"], "", "SWR error body shape: {body}");
    assert!(entry["errorMessage"].is_string(), "{body}");
    assert_eq!(body["error_code"], entry["errorCode"], "{body}");
    assert_eq!(body["error_msg"], entry["errorMessage"], "{body}");
    assert_eq!(
        body["details"][0]["error_code"], entry["errorCode"],
        "{body}"
    );
    entry["errorCode"].as_str().unwrap_or_default()
}

fn path(org: &str, repo: &str, leaf: &str) -> String {
    format!("/v2/manage/namespaces/{org}/repos/{repo}/{leaf}")
}

#[tokio::test]
async fn names_bodies_and_targets_are_validated() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let task = r#"{"remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr"}"#;
    let sync_repo = path("platform", "nginx", "sync_repo");
    let sync_images = path("platform", "nginx", "sync_images");
    let (post, get, delete) = (Method::POST, Method::GET, Method::DELETE);
    let table = [
        (
            "invalid organization",
            &post,
            path("Bad_", "nginx", "sync_repo"),
            task,
            400,
        ),
        (
            "invalid repository",
            &post,
            path("platform", "Nginx", "sync_repo"),
            task,
            400,
        ),
        (
            "invalid nested repository",
            &get,
            path("platform", "a%24%24b", "sync_repo"),
            "",
            400,
        ),
        (
            "missing remoteRegionId",
            &post,
            sync_repo.clone(),
            r#"{"remoteNamespace": "platform-dr"}"#,
            400,
        ),
        (
            "missing remoteNamespace",
            &post,
            sync_repo.clone(),
            r#"{"remoteRegionId": "cn-east-3"}"#,
            400,
        ),
        ("bad JSON", &post, sync_repo.clone(), "{not json", 400),
        (
            "wrong types",
            &post,
            sync_repo.clone(),
            r#"{"remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr", "syncAuto": "yes"}"#,
            400,
        ),
        (
            "unknown target region",
            &post,
            sync_repo.clone(),
            r#"{"remoteRegionId": "mars-1", "remoteNamespace": "platform-dr"}"#,
            400,
        ),
        (
            "target is the source",
            &post,
            sync_repo.clone(),
            r#"{"remoteRegionId": "cn-north-4", "remoteNamespace": "platform"}"#,
            400,
        ),
        (
            "missing target organization",
            &post,
            sync_repo.clone(),
            r#"{"remoteRegionId": "cn-east-3", "remoteNamespace": "nowhere"}"#,
            400,
        ),
        (
            "missing source repository",
            &post,
            path("platform", "nope", "sync_repo"),
            task,
            404,
        ),
        (
            "missing source organization",
            &get,
            path("ghost", "nginx", "sync_repo"),
            "",
            404,
        ),
        (
            "delete with bad JSON",
            &delete,
            sync_repo.clone(),
            "[]",
            400,
        ),
        (
            "delete from a missing repository",
            &delete,
            path("platform", "nope", "sync_repo"),
            task,
            404,
        ),
        (
            "manual sync of a missing tag",
            &post,
            sync_images.clone(),
            r#"{"imageTag": ["nope"], "remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr"}"#,
            404,
        ),
        (
            "manual sync without tags",
            &post,
            sync_images,
            r#"{"imageTag": [], "remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr"}"#,
            400,
        ),
        (
            "bad sync_job filter",
            &get,
            path("platform", "nginx", "sync_job?filter=limit::x"),
            "",
            400,
        ),
        (
            "bad repos limit",
            &get,
            "/v2/manage/repos?namespace=platform&limit=-1".into(),
            "",
            400,
        ),
        (
            "bad repos namespace",
            &get,
            "/v2/manage/repos?namespace=Bad".into(),
            "",
            400,
        ),
        (
            "tags of a missing repository",
            &get,
            path("platform", "nope", "tags"),
            "",
            404,
        ),
    ];
    for (what, method, target, body, status) in table {
        let code = match (status, what.contains("organization")) {
            (400, _) => "SVCSTG.SWR.4000014",
            (_, true) => "SVCSTG.SWR.4040058",
            (_, false) => "SVCSTG.SWR.4040010",
        };
        let (got, answer) = read(
            swr.send(method.clone(), &target, &[], body.as_bytes())
                .await,
        )
        .await;
        assert_eq!(got.as_u16(), status, "{what}: {answer}");
        assert_eq!(error_code(&answer), code, "{what}: {answer}");
    }
    // No API has that method and path: the gateway answers, in its own shape.
    let (got, answer) = read(swr.send(Method::PUT, &sync_repo, &[], b"").await).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    assert_eq!(answer["error_code"], "APIGW.0101", "{answer}");
    let (_, tasks) = admin(&swr.base, Method::GET, "tasks", None).await;
    assert_eq!(tasks, json!([]), "no refused request left a task");
}

#[tokio::test]
async fn create_is_unique_and_delete_follows_swr() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let sync_repo = format!("{NGINX}/sync_repo");
    let body = json!({"remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr",
        "syncAuto": true});
    let created = swr.post(&sync_repo, &body).await;
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(
        created.text().await.unwrap(),
        "",
        "SWR answers a create with no body"
    );

    let (status, body) = read(swr.post(&sync_repo, &dr("cn-east-3")).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "SVCSTG.SWR.4090000");
    let (_, tasks) = read(swr.get(&sync_repo).await).await;
    assert_eq!(
        tasks.as_array().unwrap().len(),
        1,
        "the task exists once: {tasks}"
    );
    let task = &tasks[0];
    assert_eq!(
        (
            &task["namespace"],
            &task["repoName"],
            &task["remoteRegionId"],
            &task["syncAuto"],
            &task["override"]
        ),
        (
            &json!("platform"),
            &json!("nginx"),
            &json!("cn-east-3"),
            &json!(true),
            &json!(false)
        )
    );
    assert_eq!(task["domainName"], "example-domain");
    assert!(
        task["id"].is_i64() && task["createdAt"].as_str().unwrap().ends_with('Z'),
        "{task}"
    );

    let (status, body) = read(swr.delete(&sync_repo, &dr("ap-southeast-1")).await).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "deleting a missing task: {body}"
    );
    assert_eq!(error_code(&body), "SVCSTG.SWR.4001158");
    let deleted = swr.delete(&sync_repo, &dr("cn-east-3")).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let (_, tasks) = read(swr.get(&sync_repo).await).await;
    assert_eq!(tasks, json!([]));
}

#[tokio::test]
async fn nested_repositories_arrive_as_dollar_or_percent_24() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let encoded = "/v2/manage/namespaces/platform/repos/team%24api/sync_repo";
    assert_eq!(
        swr.post(encoded, &dr("cn-east-3")).await.status(),
        StatusCode::OK
    );
    let (status, tasks) = read(
        swr.get("/v2/manage/namespaces/platform/repos/team$api/sync_repo")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks[0]["repoName"], "team/api");
}

async fn tag_digests(swr: &Signed, target: &str) -> Vec<(String, String)> {
    let (status, tags) = read(swr.get(target).await).await;
    assert_eq!(status, StatusCode::OK, "{tags}");
    tags.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["Tag"].as_str().unwrap().into(),
                t["digest"].as_str().unwrap().into(),
            )
        })
        .collect()
}

#[tokio::test]
async fn manual_sync_copies_tags_and_records_job_states() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let sync = |tags: &[&str], override_existing: bool| {
        json!({"imageTag": tags, "override": override_existing,
            "remoteRegionId": "cn-east-3", "remoteNamespace": "platform-dr"})
    };
    let images = format!("{NGINX}/sync_images");
    let answer = swr.post(&images, &sync(&["1.25", "latest"], false)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let copied = "/cn-east-3/v2/manage/namespaces/platform-dr/repos/nginx/tags";
    assert_eq!(
        tag_digests(&swr, copied).await,
        tag_digests(&swr, &format!("{NGINX}/tags")).await
    );

    assert_eq!(
        swr.post(&images, &sync(&["1.25"], false)).await.status(),
        StatusCode::OK
    );
    let push = json!({"region": "cn-north-4", "organization": "platform", "repository": "nginx",
        "tag": "latest", "digest": "sha256:new"});
    assert_eq!(
        admin(&swr.base, Method::POST, "push", Some(push)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        swr.post(&images, &sync(&["latest"], false)).await.status(),
        StatusCode::OK
    );
    let moved = tag_digests(&swr, copied).await;
    assert_ne!(moved[1].1, "sha256:new", "not overwritten without override");
    assert_eq!(
        swr.post(&images, &sync(&["latest"], true)).await.status(),
        StatusCode::OK
    );
    assert_eq!(tag_digests(&swr, copied).await[1].1, "sha256:new");

    let answer = swr
        .get(&format!(
            "{NGINX}/sync_job?filter=limit::10|offset::0|order::desc"
        ))
        .await;
    assert_eq!(answer.headers()["content-range"], "0-5/5");
    let (_, jobs) = read(answer).await;
    let seen: Vec<(&str, &str)> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["tag"].as_str().unwrap(), j["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("latest", "success"),
            ("latest", "failed"),
            ("1.25", "existed"),
            ("latest", "success"),
            ("1.25", "success")
        ],
        "newest first"
    );
    assert_eq!(jobs[0]["syncOperatorName"], testkit::signed::ACCESS_KEY);
}

#[tokio::test]
async fn listings_page_and_report_content_range() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let (_, regions) = read(swr.get("/v2/manage/regions").await).await;
    assert_eq!(
        regions,
        json!([{"regionID": "ap-southeast-1"}, {"regionID": "cn-east-3"}])
    );
    let (_, regions) = read(swr.get("/cn-east-3/v2/manage/regions").await).await;
    assert_eq!(
        regions,
        json!([{"regionID": "ap-southeast-1"}, {"regionID": "cn-north-4"}])
    );

    let (_, orgs) = read(swr.get("/v2/manage/namespaces").await).await;
    let names: Vec<&str> = orgs["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["platform", "team_a.b-c"]);

    let page = swr
        .get("/v2/manage/repos?namespace=platform&limit=1&offset=1&order_column=updated_at&order_type=asc")
        .await;
    assert_eq!(page.headers()["content-range"], "1-1/2");
    let (_, repos) = read(page).await;
    assert_eq!(repos[0]["name"], "team/api");
    assert_eq!(repos[0]["namespace"], "platform");
    assert_eq!(repos[0]["tags"], json!(["v1"]));
    let (_, all) = read(swr.get("/v2/manage/repos").await).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        3,
        "every organization without a namespace"
    );
    let beyond = swr
        .get("/v2/manage/repos?namespace=platform&limit=10&offset=10")
        .await;
    assert_eq!(beyond.headers()["content-range"], "10-0/2");

    let tags = swr.get(&format!("{NGINX}/tags?limit=1&offset=0")).await;
    assert_eq!(
        tags.headers()["content-range"],
        "0-1/2",
        "offset-count/total"
    );
    let (_, tags) = read(tags).await;
    assert_eq!(tags[0]["Tag"], "1.25");
    assert!(tags[0]["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        tags[0]["path"],
        "swr.cn-north-4.myhuaweicloud.com/platform/nginx:1.25"
    );
}

/// `organization/name` of each repository of a listing answer, in order.
fn listed(repos: &Value) -> Vec<String> {
    repos
        .as_array()
        .unwrap_or_else(|| panic!("a list: {repos}"))
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["namespace"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn the_repository_listing_follows_the_api_page() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let region = |more: Value| {
        let mut body = json!({"region": "cn-north-4"});
        body.as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        Some(body)
    };
    let dr = region(json!({"name": "platform-dr"}));
    assert_eq!(
        admin(&swr.base, Method::POST, "organizations", dr).await.0,
        201
    );
    // Updated last to first: team/api (start-up), platform-dr/nginx, platform/nginx (now
    // with three tags).
    for (org, tag) in [("platform-dr", "v1"), ("platform", "1.26")] {
        let push = region(json!({"organization": org, "repository": "nginx", "tag": tag}));
        assert_eq!(admin(&swr.base, Method::POST, "push", push).await.0, 200);
    }
    let list = |query: &str| {
        let (swr, query) = (swr.clone(), query.to_string());
        async move {
            let (status, body) = read(swr.get(&format!("/v2/manage/repos?{query}")).await).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            listed(&body)
        }
    };
    let (nginx, dr_nginx, api) = ("platform/nginx", "platform-dr/nginx", "platform/team/api");

    // Query parameters: the organization matches fuzzily; order_column is updated_at only.
    assert_eq!(
        list("namespace=platform&order_column=updated_at&order_type=asc").await,
        [api, dr_nginx, nginx]
    );
    assert_eq!(
        list("namespace=platform&order_column=updated_at&order_type=desc").await,
        [nginx, dr_nginx, api]
    );
    assert_eq!(
        list("namespace=platform").await,
        [nginx, dr_nginx, api],
        "default: newest first"
    );
    assert_eq!(list("namespace=platform-dr").await, [dr_nginx]);

    // The filter form: name, updated_time or tag_count; equal names by organization.
    let filter = |rest: &str| format!("filter=namespace::platform|{rest}");
    for (order, expected) in [
        ("order_column::name|order_type::asc", [nginx, dr_nginx, api]),
        (
            "order_column::name|order_type::desc",
            [api, nginx, dr_nginx],
        ),
        (
            "order_column::updated_time|order_type::asc",
            [api, dr_nginx, nginx],
        ),
        (
            "order_column::tag_count|order_type::asc",
            [api, dr_nginx, nginx],
        ),
    ] {
        assert_eq!(list(&filter(order)).await, expected, "{order}");
    }
    assert_eq!(list("filter=namespace::form").await.len(), 3, "fuzzy");
    assert_eq!(
        list("filter=name::team$api").await,
        [api],
        "fuzzy, `$` for `/`"
    );
    assert_eq!(
        list("namespace=team_a.b-c&filter=namespace::platform-dr").await,
        [dr_nginx],
        "the filter overrides the query parameters"
    );
    assert!(list("filter=center::thirdparty").await.is_empty());

    // Pages: Content-Range offset-count/total, only when limit and offset were sent.
    let page = swr
        .get("/v2/manage/repos?filter=namespace::platform|limit::2|offset::2|order_column::name|order_type::asc")
        .await;
    assert_eq!(page.headers()["content-range"], "2-1/3");
    assert_eq!(listed(&read(page).await.1), [api]);
    let whole = swr.get("/v2/manage/repos?namespace=platform").await;
    assert!(whole.headers().get("content-range").is_none());
    let bulk = region(json!({"name": "bulk"}));
    assert_eq!(
        admin(&swr.base, Method::POST, "organizations", bulk)
            .await
            .0,
        201
    );
    for i in 0..101 {
        let repository = format!("r{i:03}");
        let push = region(json!({"organization": "bulk", "repository": repository, "tag": "v1"}));
        admin(&swr.base, Method::POST, "push", push).await;
    }
    assert_eq!(list("namespace=bulk").await.len(), 100, "100 without limit");

    for (what, query) in [
        ("limit without offset", "namespace=platform&limit=10"),
        ("offset without limit", "namespace=platform&offset=0"),
        (
            "offset not a multiple of limit",
            "namespace=platform&limit=10&offset=5",
        ),
        ("zero limit", "namespace=platform&limit=0&offset=0"),
        ("order_column without order_type", "order_column=updated_at"),
        ("order_type without order_column", "order_type=asc"),
        (
            "name is a filter column",
            "order_column=name&order_type=asc",
        ),
        ("unknown direction", "order_column=updated_at&order_type=up"),
        (
            "updated_at is a query column",
            "filter=order_column::updated_at|order_type::asc",
        ),
        ("empty filter", "filter="),
        ("unknown filter key", "filter=size::3"),
        ("unknown center", "filter=center::others"),
        (
            "filter limit without offset",
            "filter=namespace::platform|limit::10",
        ),
    ] {
        let (status, body) = read(swr.get(&format!("/v2/manage/repos?{query}")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(error_code(&body), "SVCSTG.SWR.4000014", "{what}");
    }
}

#[tokio::test]
async fn the_region_prefix_routes_and_unknown_regions_are_404() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let push = json!({"region": "cn-east-3", "organization": "platform-dr", "repository": "nginx",
        "tag": "v9"});
    admin(&swr.base, Method::POST, "push", Some(push)).await;
    let east = "/cn-east-3/v2/manage/namespaces/platform-dr/repos/nginx/sync_repo";
    assert_eq!(
        swr.post(east, &dr("ap-southeast-1")).await.status(),
        StatusCode::OK
    );
    let (_, tasks) = read(swr.get(east).await).await;
    assert_eq!(tasks[0]["remoteRegionId"], "ap-southeast-1");
    // Without a prefix the request goes to cn-north-4, which has no platform-dr.
    let (status, _) = read(
        swr.get("/v2/manage/namespaces/platform-dr/repos/nginx/sync_repo")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An explicit default region is the same as none.
    let (_, prefixed) = read(swr.get("/cn-north-4/v2/manage/regions").await).await;
    let (_, bare) = read(swr.get("/v2/manage/regions").await).await;
    assert_eq!(prefixed, bare);
    let (_, all) = admin(&swr.base, Method::GET, "tasks", None).await;
    assert_eq!(all[0]["region"], "cn-east-3");

    let unknown = swr.get("/mars-1/v2/manage/regions").await;
    assert!(unknown.headers().contains_key("x-request-id"));
    let (status, body) = read(unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // No such host in the real cloud: no API published there, says the gateway.
    assert_eq!(body["error_code"], "APIGW.0101", "{body}");
    assert!(
        body["error_msg"].as_str().unwrap().contains("mars-1"),
        "{body}"
    );
}

#[tokio::test]
async fn every_answer_carries_a_fresh_request_id() {
    let (_emulator, swr) = start(EmulatorConfig::embedded_default()).await;
    let mut ids = Vec::new();
    for target in [
        "/v2/manage/regions",
        "/v2/manage/namespaces/platform/repos/nope/sync_repo",
    ] {
        let answer = swr.get(target).await;
        let id = answer.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(id.len(), 32, "{id}");
        ids.push(id);
    }
    let unauthenticated = reqwest::get(format!("{}/v2/manage/regions", swr.base))
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    ids.push(
        unauthenticated.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .into(),
    );
    ids.dedup();
    assert_eq!(ids.len(), 3);
}
