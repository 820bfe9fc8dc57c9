//! `swr-sync-operator plan`: what the operator would create, replace, delete and leave alone
//! for some rules, computed with the reconciler's own assess step (regions, claims, observe,
//! plan) and read-only SWR calls. Nothing is changed anywhere.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use crate::api::status::TaskState;
use crate::api::ImageSyncRule;
use crate::auth::{CloudAuth, Credentials};
use crate::cli::{Output, PlanArgs};
use crate::cloud::{CloudClient, Transport};
use crate::reconcile::account::Account;
use crate::reconcile::assess::{assess, validate};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::listings::TaskListings;
use crate::reconcile::plan::Action;
use crate::reconcile::regions::RegionCache;
use crate::reconcile::report::Report;
use crate::reconcile::tag_listings::TagListings;
use crate::reconcile::verification::{inspect, verifiable, Verification};
use crate::swr::SwrClient;

/// Exit code when changes are pending (0: nothing to do; 1: a rule could not be planned).
pub const EXIT_CHANGES_PENDING: i32 = 2;

/// One line of the plan: a task and what would happen to it, or a rule that cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// Namespace of the rule.
    pub namespace: String,
    /// Name of the rule.
    pub rule: String,
    /// create, replace, delete (changes); keep, retain, conflict, blocked (left alone);
    /// suspended (the whole rule is left alone); error (the rule cannot be planned).
    pub action: String,
    /// The task (`region:org/repo -> region/org`), empty for a rule-level error.
    pub task: String,
    /// Why, where there is something to say.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Row {
    fn is_change(&self) -> bool {
        matches!(self.action.as_str(), "create" | "replace" | "delete")
    }
}

/// Runs `plan`: prints the plan and returns the process exit code.
pub async fn run(args: PlanArgs) -> anyhow::Result<i32> {
    let transport = Arc::new(args.cloud.transport()?);
    let cluster = kube::Client::try_default().await.ok();
    let (rules, universe) = load_rules(&args, cluster.as_ref()).await?;
    let shared = match &args.credentials {
        Some(path) => Some(credentials_file(path)?),
        None => None,
    };
    let snapshot = Snapshot {
        verify_grace: args.verify_grace,
        regions: RegionCache::default(),
        listings: TaskListings::new(Duration::from_secs(3600)),
        tags: TagListings::new(Duration::from_secs(3600)),
        ledger: Ledger::default(),
    };
    let mut rows = Vec::new();
    // Oldest first: of two rules that want the same free task, the older takes it here, as
    // it would when both are applied in that order.
    let mut rules = rules;
    rules.sort_by_key(|r| r.metadata.creation_timestamp.as_ref().map(|t| t.0));
    for rule in &rules {
        let credentials = match &shared {
            Some(c) => Ok(c.clone()),
            None => cluster_credentials(cluster.as_ref(), rule).await,
        };
        rows.extend(plan_rule(rule, &universe, credentials, &transport, &snapshot).await);
    }
    match args.output {
        Output::Table => print!("{}", table(&rows)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(if rows.iter().any(|r| r.action == "error") {
        1
    } else if rows.iter().any(Row::is_change) {
        EXIT_CHANGES_PENDING
    } else {
        0
    })
}

/// What one run shares between its rules: it is one snapshot, so a repository's listing
/// serves every rule that needs it, and a task one rule takes is not free for the next.
struct Snapshot {
    /// `--verify-grace`.
    verify_grace: Duration,
    regions: RegionCache,
    listings: TaskListings,
    tags: TagListings,
    ledger: Ledger,
}

/// The rows of one rule.
async fn plan_rule(
    rule: &ImageSyncRule,
    all: &[ImageSyncRule],
    credentials: Result<Credentials, String>,
    transport: &Arc<Transport>,
    snapshot: &Snapshot,
) -> Vec<Row> {
    let row = |action: &str, task: String, note: String| Row {
        namespace: rule.namespace().unwrap_or_default(),
        rule: rule.name_any(),
        action: action.into(),
        task,
        note,
    };
    if let Err(problem) = validate(rule) {
        return vec![row("error", String::new(), problem.message)];
    }
    if rule.spec.suspend {
        let note = "spec.suspend is set: the operator leaves SWR alone";
        return vec![row("suspended", String::new(), note.into())];
    }
    let credentials = match credentials {
        Ok(c) => c,
        Err(message) => return vec![row("error", String::new(), message)],
    };
    let swr = SwrClient::new(CloudClient::new(
        transport.clone(),
        Arc::new(CloudAuth::new(credentials)),
    ));
    let listings = snapshot.listings.for_account(Account::of(rule), false);
    // One pass over a listing: every rule is a candidate claimant, no index needed.
    let candidates = |_: &_| all.iter().collect::<Vec<_>>();
    let assessed = assess(
        rule,
        &swr,
        &snapshot.regions,
        &listings,
        candidates,
        &snapshot.ledger,
    )
    .await;
    let (plan, report) = match assessed {
        Ok(assessed) => assessed,
        Err(problem) => return vec![row("error", String::new(), problem.message)],
    };
    let mut rows: Vec<Row> = plan
        .actions
        .iter()
        .map(|action| {
            let (verb, note) = match action {
                Action::Create { .. } => ("create", ""),
                Action::Replace { .. } => ("replace", "settings drifted"),
                Action::Delete { .. } => ("delete", "no longer wanted"),
            };
            row(verb, action.key().to_string(), note.into())
        })
        .collect();
    rows.extend(verification_rows(rule, &swr, &report, snapshot, &row).await);
    for (key, line) in &report.tasks {
        let action = match line.state {
            TaskState::Pending => continue,
            TaskState::InSync => "keep",
            TaskState::Retained => "retain",
            TaskState::Conflict => "conflict",
            TaskState::Failed => "blocked",
            TaskState::External => "external",
            TaskState::Releasing => "release",
        };
        rows.push(row(
            action,
            key.to_string(),
            line.message.clone().unwrap_or_default(),
        ));
    }
    rows
}

/// With `spec.verify`: per target, what verification finds now in the tasks that exist
/// (`verify`), and the copies repair would request (`repair`).
async fn verification_rows(
    rule: &ImageSyncRule,
    swr: &SwrClient,
    report: &Report,
    snapshot: &Snapshot,
    row: &impl Fn(&str, String, String) -> Row,
) -> Vec<Row> {
    let Some(spec) = &rule.spec.verify else {
        return Vec::new();
    };
    let pairs = verifiable(report);
    let verification = Verification {
        spec,
        swr,
        listings: (&snapshot.tags, Account::of(rule)),
        previous: rule.status.as_ref().and_then(|s| s.replication.as_ref()),
        pairs,
        forced: true,
        grace: snapshot.verify_grace,
    };
    match inspect(&verification, chrono::Utc::now()).await {
        Ok((targets, requests)) => {
            let mut rows: Vec<Row> = targets
                .iter()
                .map(|t| {
                    let mut note = format!(
                        "{:?}: {} missing, {} diverged, {} in flight",
                        t.state, t.missing, t.diverged, t.in_flight
                    );
                    if !t.examples.is_empty() {
                        note = format!("{note} ({})", t.examples.join(", "));
                    }
                    row("verify", format!("{}/{}", t.region, t.organization), note)
                })
                .collect();
            rows.extend(requests.iter().map(|r| {
                let tags: Vec<&str> = r.tags.iter().map(|(t, _)| t.as_str()).collect();
                let note = format!("would copy {} tag(s): {}", tags.len(), tags.join(", "));
                row(
                    "repair",
                    format!("{} -> {}", r.source.repository(), r.target),
                    note,
                )
            }));
            rows
        }
        Err(message) => vec![row("error", String::new(), format!("verifying: {message}"))],
    }
}

/// The rules to plan (from the files, or the cluster's) and every rule they compete with
/// for tasks. A file rule that exists in the cluster takes its identity, age and inventory
/// from there, so pruning and claims show as they would happen; a new one is the youngest.
async fn load_rules(
    args: &PlanArgs,
    cluster: Option<&kube::Client>,
) -> anyhow::Result<(Vec<ImageSyncRule>, Vec<ImageSyncRule>)> {
    let listed = match cluster {
        Some(client) => list_cluster_rules(client, args.namespace.as_deref()).await,
        None => None,
    };
    if args.files.is_empty() {
        let rules = listed.ok_or_else(|| {
            anyhow::anyhow!("no -f files given and no cluster reachable (set KUBECONFIG)")
        })?;
        return Ok((rules.clone(), rules));
    }
    let mut live: BTreeMap<(String, String), ImageSyncRule> = listed
        .unwrap_or_default()
        .into_iter()
        .map(|r| ((r.namespace().unwrap_or_default(), r.name_any()), r))
        .collect();
    let mut rules = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(doc)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            if value["kind"] != "ImageSyncRule" {
                continue;
            }
            let mut rule: ImageSyncRule = serde_json::from_value(value).map_err(|e| {
                anyhow::anyhow!("{}: not a valid ImageSyncRule: {e}", path.display())
            })?;
            let namespace = rule
                .namespace()
                .or_else(|| args.namespace.clone())
                .unwrap_or_else(|| "default".into());
            let key = (namespace.clone(), rule.name_any());
            rule.metadata.namespace = Some(namespace);
            match live.remove(&key) {
                Some(current) => {
                    rule.metadata.uid = current.metadata.uid;
                    rule.metadata.creation_timestamp = current.metadata.creation_timestamp;
                    rule.status = current.status;
                }
                None => {
                    rule.metadata.uid = Some(format!("file:{}/{}", key.0, key.1));
                    rule.metadata.creation_timestamp = Some(Time(Timestamp::now()));
                }
            }
            rules.push(rule);
        }
    }
    let universe = rules.iter().cloned().chain(live.into_values()).collect();
    Ok((rules, universe))
}

/// The cluster's rules, or None when they cannot be listed.
async fn list_cluster_rules(
    client: &kube::Client,
    namespace: Option<&str>,
) -> Option<Vec<ImageSyncRule>> {
    let api: Api<ImageSyncRule> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    api.list(&ListParams::default()).await.ok().map(|l| l.items)
}

/// A rule's credentials from its Secret in the cluster.
async fn cluster_credentials(
    cluster: Option<&kube::Client>,
    rule: &ImageSyncRule,
) -> Result<Credentials, String> {
    let namespace = rule.namespace().unwrap_or_default();
    let name = &rule.spec.credentials_secret_ref.name;
    let Some(client) = cluster else {
        return Err(format!(
            "no cluster to read Secret {namespace}/{name} from; pass --credentials"
        ));
    };
    let secret = Api::<Secret>::namespaced(client.clone(), &namespace)
        .get(name)
        .await
        .map_err(|e| format!("reading Secret {namespace}/{name}: {e}"))?;
    Credentials::from_secret(&secret).map_err(|e| format!("Secret {namespace}/{name}: {e}"))
}

/// Credentials from a Secret manifest on disk (`data` or `stringData`).
fn credentials_file(path: &PathBuf) -> anyhow::Result<Credentials> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let secret: Secret = serde_yaml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a Secret manifest: {e}", path.display()))?;
    Credentials::from_secret(&secret).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The rows as aligned columns.
pub fn table(rows: &[Row]) -> String {
    let headers = ["RULE", "ACTION", "TASK", "NOTE"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            let rule = format!("{}/{}", r.namespace, r.rule);
            [rule, r.action.clone(), r.task.clone(), r.note.clone()]
        })
        .collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|c| c[i].len())
            .chain([headers[i].len()])
            .max()
            .unwrap_or_default()
    };
    let widths = [width(0), width(1), width(2)];
    let line = |c: [&str; 4]| {
        format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            c[0],
            c[1],
            c[2],
            c[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
        .trim_end()
        .to_string()
    };
    let mut out = line(headers) + "\n";
    for c in &cells {
        out += &(line([&c[0], &c[1], &c[2], &c[3]]) + "\n");
    }
    let changes = rows.iter().filter(|r| r.is_change()).count();
    out += &format!("{changes} change(s) pending\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_and_counts_changes() {
        let row = |action: &str, task: &str| Row {
            namespace: "ns".into(),
            rule: "web".into(),
            action: action.into(),
            task: task.into(),
            note: String::new(),
        };
        let text = table(&[row("create", "a -> b"), row("keep", "c -> dd")]);
        assert_eq!(
            text,
            "RULE    ACTION  TASK     NOTE\nns/web  create  a -> b\nns/web  keep    c -> dd\n1 change(s) pending\n"
        );
    }
}
