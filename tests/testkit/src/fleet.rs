//! A fleet of rules for the benchmark and the fault campaign: N rules over R repositories
//! with T targets each, the emulator configuration that holds them, the drift applied to
//! them, and the exact set of tasks SWR must end with.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use swr_sync_operator::api::ImageSyncRule;
use swr_sync_operator::emulator::EmulatorConfig;

use crate::operator::{ACCESS_KEY, SECRET_KEY};

/// Region every source repository lives in (the emulator's default region).
pub const SOURCE_REGION: &str = "cn-north-4";
/// Organization of the source repositories.
pub const SOURCE_ORG: &str = "fleet";
/// Target regions, used in turn.
pub const TARGET_REGIONS: [&str; 2] = ["cn-east-3", "ap-southeast-1"];
/// Project id of the source region, put in the Secret so no IAM lookup is needed.
pub const PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";
/// A second access key of the same account, for Secret rotation.
pub const SECOND_ACCESS_KEY: &str = "UHQ2B0ZCXVNWQ5ETRO8A";
/// Its secret key.
pub const SECOND_SECRET_KEY: &str = "u1zRk8Vw0cQeYh3dLx9TgN6pJ2sA5fB7mK4oE0iH";
/// Name of the credentials Secret every rule uses.
pub const SECRET: &str = "swr-credentials";

/// A task as the emulator's admin API lists it: (source org, repository, target region,
/// target org). Every task of the fleet is in the source region with the same settings.
pub type Task = (String, String, String, String);

/// The shape of a fleet.
#[derive(Debug, Clone, Copy)]
pub struct Fleet {
    /// Number of rules (N).
    pub rules: usize,
    /// Number of source repositories (R); rule `i` replicates repository `i % R`.
    pub repos: usize,
    /// Targets per rule (T).
    pub targets: usize,
    /// The rules' `resyncInterval` (None: the default).
    pub resync: Option<&'static str>,
    /// Whether the rules verify replication (`verify: {interval: 1h}`); the targets then
    /// already hold the source's tags, so that the rules are Ready.
    pub verify: bool,
}

/// What the drift scenario changes behind the operator's back, a tenth of the tasks each.
#[derive(Debug, Clone, Default)]
pub struct Drift {
    /// Desired tasks deleted from SWR.
    pub missing: Vec<Task>,
    /// Tasks no rule owns, created in SWR directly; they must survive.
    pub foreign: Vec<Task>,
    /// (rule, target index) pairs dropped from the rules' specs: owned tasks to prune.
    pub dropped: Vec<(usize, usize)>,
}

impl Fleet {
    /// Rules sharing one repository (rules `i`, `i + R`, `i + 2R`… use it).
    fn groups(&self) -> usize {
        self.rules.div_ceil(self.repos)
    }

    /// Name of rule `i`. Names do not follow repositories, so rules sharing one are far
    /// apart in the controller's queue, as they would be in a real cluster.
    pub fn rule_name(i: usize) -> String {
        format!("rule-{i:05}")
    }

    /// Repository of rule `i`.
    pub fn repo(&self, i: usize) -> String {
        format!("app-{:04}", i % self.repos)
    }

    /// Target `j` of rule `i`: (region, organization), distinct for every rule of a
    /// repository so no two rules claim one task.
    pub fn target(&self, i: usize, j: usize) -> (String, String) {
        let region = TARGET_REGIONS[j % TARGET_REGIONS.len()];
        (region.to_string(), format!("dr-{}-{j}", i / self.repos))
    }

    /// Rule `i`'s spec with targets `targets` (indexes into [`Fleet::target`]).
    pub fn spec(&self, i: usize, targets: impl IntoIterator<Item = usize>) -> Value {
        let targets: Vec<Value> = targets
            .into_iter()
            .map(|j| {
                let (region, org) = self.target(i, j);
                json!({"region": region, "organization": org})
            })
            .collect();
        let mut spec = json!({
            "source": {"region": SOURCE_REGION, "organization": SOURCE_ORG, "repositories": [self.repo(i)]},
            "targets": targets,
            "credentialsSecretRef": {"name": SECRET},
        });
        if let Some(resync) = self.resync {
            spec["resyncInterval"] = json!(resync);
        }
        if self.verify {
            spec["verify"] = json!({"interval": "1h"});
        }
        spec
    }

    /// The repositories of target organization group `g` (rules `g*R..(g+1)*R`), holding
    /// what their sources hold (a configured tag's digest follows from its names).
    fn replicated_repositories(&self, yaml: &mut String, g: usize) {
        let rules = g * self.repos..((g + 1) * self.repos).min(self.rules);
        if rules.is_empty() {
            return;
        }
        writeln!(yaml, "        repositories:").unwrap();
        for i in rules {
            writeln!(
                yaml,
                "          - {{name: {}, tags: [{{name: v1}}]}}",
                self.repo(i)
            )
            .unwrap();
        }
    }

    /// The emulator's start-up state: the source repositories, every target organization
    /// and the organizations foreign tasks go to.
    pub fn emulator_config(&self) -> EmulatorConfig {
        let mut yaml = String::new();
        writeln!(yaml, "defaultRegion: {SOURCE_REGION}").unwrap();
        yaml.push_str(
            "domains: [{name: fleet-domain, id: 0a1b2c3d4e5f60718293a4b5c6d7e8f9}]\n\
             accessKeys: [{accessKey: ",
        );
        writeln!(
            yaml,
            "{ACCESS_KEY}, secretKey: {SECRET_KEY}, domain: fleet-domain}},\n  \
             {{accessKey: {SECOND_ACCESS_KEY}, secretKey: {SECOND_SECRET_KEY}, domain: fleet-domain}}]"
        )
        .unwrap();
        writeln!(
            yaml,
            "regions:\n  - id: {SOURCE_REGION}\n    projectId: {PROJECT_ID}"
        )
        .unwrap();
        writeln!(
            yaml,
            "    organizations:\n      - name: {SOURCE_ORG}\n        repositories:"
        )
        .unwrap();
        for r in 0..self.repos {
            writeln!(
                yaml,
                "          - {{name: app-{r:04}, tags: [{{name: v1}}]}}"
            )
            .unwrap();
        }
        for (index, region) in TARGET_REGIONS.iter().enumerate() {
            writeln!(yaml, "  - id: {region}\n    organizations:").unwrap();
            for g in 0..self.groups().max(self.foreign_groups()) {
                for j in (index..self.targets).step_by(TARGET_REGIONS.len()) {
                    writeln!(yaml, "      - name: dr-{g}-{j}").unwrap();
                    if self.verify {
                        self.replicated_repositories(&mut yaml, g);
                    }
                }
                writeln!(yaml, "      - name: foreign-{g}").unwrap();
            }
        }
        EmulatorConfig::from_yaml(&yaml).expect("the fleet's emulator config is valid")
    }

    /// Creates the credentials Secret and every rule in `ns` (with their first `targets`
    /// targets), `parallel` at a time.
    pub async fn create(&self, client: &Client, ns: &str, parallel: usize, targets: usize) {
        set_secret(client, ns, ACCESS_KEY, SECRET_KEY)
            .await
            .expect("writing the Secret");
        let rules = Api::<ImageSyncRule>::namespaced(client.clone(), ns);
        let all: Vec<usize> = (0..self.rules).collect();
        for_each_parallel(all, parallel, |i| {
            let rules = rules.clone();
            let rule = json!({
                "apiVersion": "swrsync.io/v1alpha1", "kind": "ImageSyncRule",
                "metadata": {"name": Self::rule_name(i)},
                "spec": self.spec(i, 0..targets),
            });
            async move {
                rules
                    .create(
                        &PostParams::default(),
                        &serde_json::from_value(rule).unwrap(),
                    )
                    .await
                    .expect("creating a rule");
            }
        })
        .await;
    }

    /// Every task the fleet's rules want, less `dropped`.
    pub fn desired(&self, dropped: &[(usize, usize)]) -> BTreeSet<Task> {
        let dropped: BTreeSet<_> = dropped.iter().collect();
        (0..self.rules)
            .flat_map(|i| (0..self.targets).map(move |j| (i, j)))
            .filter(|p| !dropped.contains(p))
            .map(|(i, j)| self.task(i, j))
            .collect()
    }

    /// Task of rule `i`'s target `j`.
    pub fn task(&self, i: usize, j: usize) -> Task {
        let (region, org) = self.target(i, j);
        (SOURCE_ORG.into(), self.repo(i), region, org)
    }

    /// A tenth of the tasks missing, a tenth foreign and a tenth dropped from the specs.
    /// Task `k = i·T + j` is missing when `k % 10 == 0` and dropped when `k % 10 == 5`;
    /// needs T ≥ 2 so a rule always keeps a target.
    pub fn drift(&self) -> Drift {
        assert!(
            self.targets >= 2,
            "the drift scenario needs at least 2 targets per rule"
        );
        let mut drift = Drift::default();
        for i in 0..self.rules {
            for j in 0..self.targets {
                match (i * self.targets + j) % 10 {
                    0 => drift.missing.push(self.task(i, j)),
                    5 => drift.dropped.push((i, j)),
                    _ => {}
                }
            }
        }
        let tenth = self.rules * self.targets / 10;
        drift.foreign = (0..tenth)
            .map(|k| {
                let repo = format!("app-{:04}", k % self.repos);
                let org = format!("foreign-{}", k / self.repos);
                (SOURCE_ORG.into(), repo, TARGET_REGIONS[0].into(), org)
            })
            .collect();
        drift
    }

    fn foreign_groups(&self) -> usize {
        (self.rules * self.targets / 10).div_ceil(self.repos)
    }

    /// Removes the dropped targets from their rules' specs (one patch per rule).
    pub async fn drop_targets(&self, client: &Client, ns: &str, dropped: &[(usize, usize)]) {
        let rules = Api::<ImageSyncRule>::namespaced(client.clone(), ns);
        let mut by_rule: std::collections::BTreeMap<usize, BTreeSet<usize>> = Default::default();
        for (i, j) in dropped {
            by_rule.entry(*i).or_default().insert(*j);
        }
        for_each_parallel(by_rule.into_iter().collect(), 16, |(i, gone)| {
            let rules = rules.clone();
            let spec = self.spec(i, (0..self.targets).filter(|j| !gone.contains(j)));
            async move {
                let patch = json!({"spec": {"targets": spec["targets"]}});
                rules
                    .patch(
                        &Self::rule_name(i),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                    .expect("editing a rule");
            }
        })
        .await;
    }
}

/// Creates or replaces the credentials Secret with this access key.
pub async fn set_secret(
    client: &Client,
    ns: &str,
    access_key: &str,
    secret_key: &str,
) -> Result<(), kube::Error> {
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": SECRET},
        "stringData": {"accessKey": access_key, "secretKey": secret_key, "projectId": PROJECT_ID},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch(
            SECRET,
            &PatchParams::apply("fleet").force(),
            &Patch::Apply(&secret),
        )
        .await
        .map(|_| ())
}

/// The emulator's tasks in the source region, as [`Task`]s.
pub fn tasks_of(admin_tasks: &Value) -> BTreeSet<Task> {
    admin_tasks
        .as_array()
        .expect("tasks array")
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
            (
                s("namespace"),
                s("repoName"),
                s("remoteRegionId"),
                s("remoteNamespace"),
            )
        })
        .collect()
}

/// Runs `work` for every item, at most `parallel` at once.
pub async fn for_each_parallel<T, F, Fut>(items: Vec<T>, parallel: usize, work: F)
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::StreamExt;
    futures::stream::iter(items.into_iter().map(work))
        .buffer_unordered(parallel)
        .collect::<Vec<()>>()
        .await;
}
