//! Per-region endpoints on a real kube-apiserver: with overrides, each region's service goes
//! to its own host (a private or dedicated cloud), and only there.

use serde_json::json;
use swr_sync_operator::emulator::{Emulator, EmulatorConfig};
use testkit::operator::{spec, Env, EAST_DR};

/// HSS refreshes an emulator accepted, by region.
async fn hss_regions(admin_base: &str) -> Vec<String> {
    let state: serde_json::Value = reqwest::get(format!("{admin_base}/_admin/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = state["hssEvents"].as_array().unwrap().iter();
    events
        .map(|e| e["region"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn each_region_goes_to_its_own_host() {
    let mut env = Env::without_operator("endpoints").await;
    env.create_secret("swr-credentials").await;
    // cn-east-3's HSS is another host; cn-north-4's SWR is named by another host name.
    let east = Emulator::start(
        EmulatorConfig::embedded_default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let north = env
        .emulator
        .endpoint_template()
        .replace("127.0.0.1", "localhost");
    env.endpoint_overrides = vec![
        format!("swr:cn-north-4={north}"),
        format!("hss:cn-east-3={}/cn-east-3", east.base_url()),
    ];
    env.start_operator();
    let mut rule = spec(&["nginx"], EAST_DR);
    rule["securityScan"] = json!({"enabled": true, "imageType": "private_image"});
    env.apply("web", rule).await.unwrap();
    env.wait_ready("web", "1/1 tasks in sync").await;
    env.wait_for("web", "the HSS refresh made", |r| {
        r.and_then(|r| r.status.as_ref())
            .is_some_and(|s| s.security_scans.iter().any(|s| s.error_code.is_some()))
    })
    .await;
    assert_eq!(hss_regions(&east.base_url()).await, ["cn-east-3"]);
    assert!(
        hss_regions(&env.emulator.base_url()).await.is_empty(),
        "the template's host got no HSS call"
    );
    assert_eq!(
        env.tasks().await.len(),
        1,
        "SWR through the other host name"
    );
}
