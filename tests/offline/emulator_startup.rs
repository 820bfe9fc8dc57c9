//! Starting the emulator: state and credentials from YAML, the CLI flags, and the
//! `swr-sync-operator emulator` binary itself (start-up line, requests, graceful SIGTERM).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Parser;
use reqwest::StatusCode;
use serde_json::json;
use swr_sync_operator::emulator::{Emulator, EmulatorArgs, EmulatorConfig};
use testkit::signed::{read, start, Key, Signed};

const YAML: &str = r#"
defaultRegion: eu-west-101
tokenLifetime: 1h
maxClockSkew: 5m
domains:
  - {name: acme, id: acme-id}
  - {name: other, id: other-id}
accessKeys:
  - {accessKey: ACMEKEY, secretKey: acme-secret, domain: acme}
  - {accessKey: OTHERKEY, secretKey: other-secret, domain: other}
regions:
  - id: eu-west-101
    projects: {acme: acme-eu-project}
    organizations:
      - name: shop
        repositories:
          - name: web/frontend
            tags:
              - {name: "3.1", digest: "sha256:31"}
              - {name: "3.2"}
  - id: af-south-1
    projectId: shared-af-project
"#;

fn key(access_key: &str, secret_key: &str) -> Key {
    Key {
        access_key: access_key.into(),
        secret_key: secret_key.into(),
        security_token: None,
    }
}

#[tokio::test]
async fn state_and_credentials_come_from_yaml() {
    let config = EmulatorConfig::from_yaml(YAML).unwrap();
    let (_emulator, demo) = start(config).await;
    assert_eq!(
        demo.get("/v2/manage/regions").await.status(),
        StatusCode::UNAUTHORIZED,
        "demo key unknown here"
    );
    let acme = Signed {
        key: key("ACMEKEY", "acme-secret"),
        ..demo.clone()
    };
    let other = Signed {
        key: key("OTHERKEY", "other-secret"),
        ..demo
    };

    let (status, tags) = read(
        acme.get("/v2/manage/namespaces/shop/repos/web%24frontend/tags")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tags}");
    assert_eq!(tags[0]["digest"], "sha256:31");
    assert!(tags[1]["digest"].as_str().unwrap().starts_with("sha256:"));
    let (_, regions) = read(acme.get("/v2/manage/regions").await).await;
    assert_eq!(regions, json!([{"regionID": "af-south-1"}]));

    let project = |client: &Signed, region: &'static str| {
        let client = client.clone();
        async move {
            let (_, body) = read(client.get(&format!("/v3/projects?name={region}")).await).await;
            body["projects"][0]["id"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(project(&acme, "eu-west-101").await, "acme-eu-project");
    assert_eq!(project(&acme, "af-south-1").await, "shared-af-project");
    assert_eq!(project(&other, "af-south-1").await, "shared-af-project");
    let derived = project(&other, "eu-west-101").await;
    assert_eq!(derived.len(), 32, "derived when not configured");
    assert_eq!(project(&other, "eu-west-101").await, derived, "and stable");
}

#[test]
fn broken_configs_are_refused_with_a_reason() {
    let table = [
        (
            YAML.replace("defaultRegion: eu-west-101", "defaultRegion: nowhere"),
            "nowhere",
        ),
        (YAML.replace("domain: other}", "domain: ghost}"), "ghost"),
        (YAML.replace("name: shop", "name: Shop"), "Shop"),
        (
            YAML.replace("maxClockSkew: 5m", "maxClockSkew: soon"),
            "soon",
        ),
        (
            YAML.replace("  - id: af-south-1", "  - id: eu-west-101"),
            "listed twice",
        ),
    ];
    for (yaml, needle) in table {
        let err = EmulatorConfig::from_yaml(&yaml).unwrap_err().to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: EmulatorArgs,
}

#[tokio::test]
async fn flags_override_the_config_and_are_checked_at_start() {
    let path = std::env::temp_dir().join(format!("emulator-{}.yaml", std::process::id()));
    std::fs::write(&path, YAML).unwrap();
    let cli = Cli::parse_from([
        "emulator",
        "--config",
        path.to_str().unwrap(),
        "--default-region",
        "af-south-1",
        "--max-clock-skew",
        "2h",
        "--token-lifetime",
        "90s",
    ]);
    let config = cli.args.load_config().unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(config.default_region, "af-south-1");
    assert_eq!(config.max_clock_skew, Duration::from_secs(7200));
    assert_eq!(config.token_lifetime, Duration::from_secs(90));
    assert_eq!(cli.args.listen.to_string(), "127.0.0.1:8787");

    let defaults = Cli::parse_from(["emulator", "--default-region", "mars-1"]).args;
    let config = defaults.load_config().unwrap();
    let err = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mars-1"), "{err}");
    assert!(Cli::try_parse_from(["emulator", "--max-clock-skew", "soon"]).is_err());
}

#[tokio::test]
async fn the_binary_serves_until_sigterm() {
    let mut child = Command::new(testkit::process::binary())
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("(default region cn-north-4; region prefix: http://127.0.0.1:"),
        "{line}"
    );
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let client = Signed::new(&base);
    assert_eq!(
        client.get("/cn-east-3/v2/manage/regions").await.status(),
        StatusCode::OK
    );

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the emulator did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}
