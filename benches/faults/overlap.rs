//! The overlapping fleet: rules of two tenants (namespaces, each with its own access key of
//! the account) that want the same tasks, with selectors, an `Orphan` rule and an adopting
//! rule; faults add renames, namespace deletions, Secret deletions and tasks created and
//! deleted by somebody else. Once converged, every task in SWR must be external (made
//! outside the operator, or left by an `Orphan` rule) or owned by exactly one live rule,
//! every task a live rule wants must exist once, and no namespace may stay Terminating.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{json, Value};
use swr_sync_operator::api::status::TaskState;
use swr_sync_operator::api::ImageSyncRule;
use swr_sync_operator::emulator::{Emulator, EmulatorHandle};
use swr_sync_operator::reconcile::select::selects;
use swr_sync_operator::swr::model::{CreateSyncTask, SyncTarget};
use swr_sync_operator::swr::{SourceRepo, SwrApi, SwrClient};

use super::campaign::{drive, FleetWorld, Outcome};
use super::replicas::{retry, Replicas, Scope};
use super::schedule::{Fault, Schedule, Sizes};
use testkit::cloud::{self, Admin};
use testkit::cluster;
use testkit::fleet::{self, Fleet, Task};
use testkit::operator::{ready_reason, ACCESS_KEY, SECRET_KEY};

/// Repositories and targets the rules share: 4 × 2 = 8 tasks.
const SHAPE: Fleet = Fleet {
    rules: 4,
    repos: 4,
    targets: 2,
    resync: Some("20s"),
    verify: false,
};

/// Rules: (tenant, repositories, selector include/exclude, targets, Orphan, Adopt).
type RuleShape = (
    usize,
    &'static [&'static str],
    Option<(&'static str, &'static str)>,
    &'static [usize],
    bool,
    bool,
);
const RULES: [RuleShape; 6] = [
    (0, &["app-0000", "app-0001"], None, &[0, 1], false, false),
    (0, &["app-0001", "app-0002"], None, &[0], true, false),
    (0, &[], Some(("app-*", "app-0003")), &[1], false, false),
    (1, &["app-0000", "app-0002"], None, &[0], false, true),
    (1, &["app-0003"], None, &[0, 1], false, false),
    (1, &[], Some(("app-000?", "none")), &[0], false, false),
];

/// Sizes faults pick from.
pub const SIZES: Sizes = Sizes {
    rules: RULES.len(),
    tenants: 2,
    tasks: 8,
};

/// Every task of the shape, by index.
fn task(k: usize) -> Task {
    let (region, org) = SHAPE.target(0, k % 2);
    (
        fleet::SOURCE_ORG.into(),
        format!("app-{:04}", k / 2),
        region,
        org,
    )
}

struct World {
    client: Client,
    tenants: [String; 2],
    label: String,
    emulator: EmulatorHandle,
    replicas: Replicas,
    /// Somebody else's client.
    swr: SwrClient,
    /// Generation of each rule's name (a rename bumps it); None: deleted.
    names: Vec<Option<usize>>,
    /// Rules with both targets (toggled by edits).
    widened: BTreeSet<usize>,
    /// The second tenant's namespace is being deleted.
    tenant_gone: bool,
    /// Tenants whose Secret is deleted.
    secret_gone: BTreeSet<usize>,
    /// Tasks made outside that no rule wanted then: they must survive unless deleted
    /// outside again or wanted by the adopting rule since.
    foreign: BTreeSet<Task>,
    /// Tasks that may exist without an owner: made outside while a rule wanted them, or
    /// left by the `Orphan` rule.
    unowned_ok: BTreeSet<Task>,
}

/// Runs `schedule` against the overlapping fleet and checks the result.
pub async fn run(schedule: &Schedule) -> Outcome {
    drive(World::start().await, schedule).await
}

impl FleetWorld for World {
    const NAME: &'static str = "overlap";

    fn replicas(&mut self) -> &mut Replicas {
        &mut self.replicas
    }

    async fn inject(&mut self, fault: &Fault) {
        self.inject_own(fault).await;
    }

    async fn restore(&mut self) {
        for tenant in std::mem::take(&mut self.secret_gone) {
            if tenant == 0 || !self.tenant_gone {
                self.write_secret(tenant).await;
            }
        }
    }

    async fn violations(&self) -> Vec<String> {
        self.find_violations().await
    }

    async fn stop(mut self) {
        self.replicas.stop().await;
        self.emulator.shutdown().await.expect("emulator stops");
    }
}

impl World {
    async fn start() -> Self {
        let client = cluster::client().await;
        cluster::install_crd(&client).await;
        let a = cluster::namespace(&client, "overlap-a").await;
        let b = cluster::namespace(&client, "overlap-b").await;
        let emulator = Emulator::start(SHAPE.emulator_config(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator starts");
        let scope = Scope::Labelled {
            lease: a.clone(),
            selector: format!("swrsync-campaign={a}"),
        };
        let admin = Admin::of(&emulator);
        let mut world = Self {
            swr: cloud::swr_client(&emulator, Some(fleet::PROJECT_ID), 10.0),
            client,
            label: a.clone(),
            tenants: [a, b],
            replicas: Replicas::start(scope, emulator.endpoint_template(), admin),
            emulator,
            names: vec![Some(0); RULES.len()],
            widened: BTreeSet::new(),
            tenant_gone: false,
            secret_gone: BTreeSet::new(),
            foreign: BTreeSet::new(),
            unowned_ok: BTreeSet::new(),
        };
        // One task exists before any rule: the adopting rule takes it, others see it
        // as external.
        world.create_outside(&task(0)).await;
        for tenant in 0..2 {
            world.write_secret(tenant).await;
        }
        for i in 0..RULES.len() {
            world.write_rule(i).await;
        }
        world
    }

    fn rules(&self, tenant: usize) -> Api<ImageSyncRule> {
        Api::namespaced(self.client.clone(), &self.tenants[tenant])
    }

    fn name(i: usize, generation: usize) -> String {
        format!("rule-{i}-{generation}")
    }

    async fn write_secret(&self, tenant: usize) {
        let (ak, sk) = match tenant {
            0 => (ACCESS_KEY, SECRET_KEY),
            _ => (fleet::SECOND_ACCESS_KEY, fleet::SECOND_SECRET_KEY),
        };
        let ns = &self.tenants[tenant];
        retry("writing a Secret", || {
            fleet::set_secret(&self.client, ns, ak, sk)
        })
        .await;
    }

    /// The spec of rule `i` as it stands.
    fn spec(&self, i: usize) -> Value {
        let (_, repos, selector, targets, orphan, adopt) = RULES[i];
        let targets: Vec<usize> = match self.widened.contains(&i) {
            true => vec![0, 1],
            false => targets.to_vec(),
        };
        let mut spec = SHAPE.spec(0, targets);
        spec["source"]["repositories"] = json!(repos);
        if let Some((include, exclude)) = selector {
            spec["source"]["repositorySelector"] =
                json!({"include": [include], "exclude": [exclude]});
        }
        spec["deletionPolicy"] = json!(if orphan { "Orphan" } else { "Delete" });
        spec["existingTasks"] = json!(if adopt { "Adopt" } else { "Ignore" });
        spec
    }

    async fn write_rule(&self, i: usize) {
        let Some(generation) = self.names[i] else {
            return;
        };
        let tenant = RULES[i].0;
        if tenant == 1 && self.tenant_gone {
            return;
        }
        let name = Self::name(i, generation);
        let rule = json!({
            "apiVersion": "swrsync.io/v1alpha1", "kind": "ImageSyncRule",
            "metadata": {"name": name, "labels": {"swrsync-campaign": self.label}},
            "spec": self.spec(i),
        });
        let rules = self.rules(tenant);
        retry("writing a rule", || async {
            rules
                .patch(
                    &name,
                    &PatchParams::apply("campaign").force(),
                    &Patch::Apply(&rule),
                )
                .await
                .map(drop)
        })
        .await;
    }

    async fn delete_rule(&mut self, i: usize) {
        let Some(generation) = self.names[i] else {
            return;
        };
        if RULES[i].4 {
            // The Orphan rule leaves what it owns: whatever it wanted may stay unowned.
            self.unowned_ok.extend(self.wanted_by(i));
        }
        let tenant = RULES[i].0;
        if tenant == 1 && self.tenant_gone {
            return;
        }
        let name = Self::name(i, generation);
        let rules = self.rules(tenant);
        retry("deleting a rule", || async {
            match rules.delete(&name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await;
    }

    /// The tasks rule `i` wants now (its selector over the shape's repositories).
    fn wanted_by(&self, i: usize) -> BTreeSet<Task> {
        let spec: swr_sync_operator::api::ImageSyncRuleSpec =
            serde_json::from_value(self.spec(i)).unwrap();
        (0..SIZES.tasks)
            .map(task)
            .filter(|t| {
                selects(&spec, &t.1)
                    && spec
                        .targets
                        .iter()
                        .any(|x| x.region == t.2 && x.organization == t.3)
            })
            .collect()
    }

    fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..RULES.len())
            .filter(|i| self.names[*i].is_some() && !(RULES[*i].0 == 1 && self.tenant_gone))
    }

    async fn create_outside(&mut self, t: &Task) {
        let repo = SourceRepo::new(fleet::SOURCE_REGION, &t.0, &t.1).unwrap();
        let body = CreateSyncTask {
            remote_region_id: t.2.clone(),
            remote_namespace: t.3.clone(),
            sync_auto: true,
            override_existing: false,
        };
        // Refused when the task exists (an operator made it meanwhile): nothing to record.
        if self.swr.create_sync_task(&repo, &body).await.is_ok() {
            let wanted = self.live().any(|i| self.wanted_by(i).contains(t));
            if wanted {
                self.unowned_ok.insert(t.clone());
            } else {
                self.foreign.insert(t.clone());
            }
        }
    }

    async fn delete_outside(&mut self, t: &Task) {
        let repo = SourceRepo::new(fleet::SOURCE_REGION, &t.0, &t.1).unwrap();
        let target = SyncTarget {
            remote_region_id: t.2.clone(),
            remote_namespace: t.3.clone(),
        };
        let _ = self.swr.delete_sync_task(&repo, &target).await;
        self.foreign.remove(t);
    }

    /// A task some live rule owns, per the statuses.
    async fn an_owned_task(&self) -> Option<Task> {
        let owners = self.owners().await.ok()?;
        owners.into_keys().next()
    }

    async fn inject_own(&mut self, fault: &Fault) {
        match fault {
            Fault::KillAfterCreate => {
                // Somebody deletes an owned task: its owner creates it again.
                let owned = self.an_owned_task().await;
                let swr = self.swr.clone();
                let provoke = async move {
                    let Some(t) = owned else { return false };
                    let repo = SourceRepo::new(fleet::SOURCE_REGION, &t.0, &t.1).unwrap();
                    let target = SyncTarget {
                        remote_region_id: t.2.clone(),
                        remote_namespace: t.3.clone(),
                    };
                    swr.delete_sync_task(&repo, &target).await.is_ok()
                };
                self.replicas.kill_after_create(provoke).await;
            }
            Fault::EditRule { rule } if self.names[*rule].is_some() => {
                if !self.widened.remove(rule) {
                    self.widened.insert(*rule);
                }
                self.write_rule(*rule).await;
            }
            Fault::DeleteOrRecreate { rule } => match self.names[*rule] {
                Some(_) => {
                    self.delete_rule(*rule).await;
                    self.names[*rule] = None;
                }
                None => {
                    self.names[*rule] = Some(0);
                    self.write_rule(*rule).await;
                }
            },
            Fault::RenameRule { rule } => {
                if let Some(generation) = self.names[*rule] {
                    self.delete_rule(*rule).await;
                    self.names[*rule] = Some(generation + 1);
                    self.write_rule(*rule).await;
                }
            }
            Fault::DeleteOrRecreateNamespace => self.delete_or_recreate_tenant().await,
            Fault::DeleteOrRecreateSecret { tenant } => {
                if *tenant == 1 && self.tenant_gone {
                    return;
                }
                if self.secret_gone.remove(tenant) {
                    self.write_secret(*tenant).await;
                } else {
                    self.secret_gone.insert(*tenant);
                    let secrets: Api<Secret> =
                        Api::namespaced(self.client.clone(), &self.tenants[*tenant]);
                    retry("deleting a Secret", || async {
                        match secrets
                            .delete(fleet::SECRET, &DeleteParams::default())
                            .await
                        {
                            Ok(_) => Ok(()),
                            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                            Err(e) => Err(e),
                        }
                    })
                    .await;
                }
            }
            Fault::ExternalCreate { task: k } => self.create_outside(&task(*k)).await,
            Fault::ExternalDelete { task: k } => self.delete_outside(&task(*k)).await,
            _ => {}
        }
        // The adopting rule may take any foreign task it wants from now on.
        for i in self.live().filter(|i| RULES[*i].5).collect::<Vec<_>>() {
            let wanted = self.wanted_by(i);
            let adoptable: Vec<Task> = self.foreign.intersection(&wanted).cloned().collect();
            for t in adoptable {
                self.foreign.remove(&t);
                self.unowned_ok.insert(t);
            }
        }
    }

    /// Deletes the second tenant's namespace, or creates it again (with its Secret and
    /// rules) once the deletion is over.
    async fn delete_or_recreate_tenant(&mut self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let ns = self.tenants[1].clone();
        if !self.tenant_gone {
            for i in (0..RULES.len()).filter(|i| RULES[*i].0 == 1 && RULES[*i].4) {
                self.unowned_ok.extend(self.wanted_by(i));
            }
            let params = DeleteParams::default();
            retry("deleting a namespace", || namespaces.delete(&ns, &params)).await;
            self.tenant_gone = true;
            self.secret_gone.remove(&1);
            return;
        }
        if retry("reading a namespace", || namespaces.get_opt(&ns))
            .await
            .is_some()
        {
            return; // still terminating
        }
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        let params = PostParams::default();
        retry("creating a namespace", || {
            namespaces.create(&params, &namespace)
        })
        .await;
        self.tenant_gone = false;
        self.write_secret(1).await;
        for i in (0..RULES.len()).filter(|i| RULES[*i].0 == 1) {
            self.write_rule(i).await;
        }
    }

    /// Owners of each task, from the live rules' statuses.
    async fn owners(&self) -> Result<BTreeMap<Task, Vec<String>>, String> {
        let mut owners: BTreeMap<Task, Vec<String>> = BTreeMap::new();
        for rule in self.listed().await? {
            for t in rule.status.iter().flat_map(|s| &s.tasks) {
                if t.ownership.is_some() {
                    let key = (
                        t.source_organization.clone(),
                        t.repository.clone(),
                        t.target_region.clone(),
                        t.target_organization.clone(),
                    );
                    owners.entry(key).or_default().push(rule.name_any());
                }
            }
        }
        Ok(owners)
    }

    async fn listed(&self) -> Result<Vec<ImageSyncRule>, String> {
        let selector = format!("swrsync-campaign={}", self.label);
        let rules: Api<ImageSyncRule> = Api::all(self.client.clone());
        let listed = rules
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| format!("the API server does not answer: {e}"))?;
        Ok(listed.items)
    }

    /// What is wrong now.
    async fn find_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        if self.tenant_gone {
            match namespaces.get_opt(&self.tenants[1]).await {
                Ok(None) => {}
                Ok(Some(_)) => out.push("the deleted namespace is still Terminating".into()),
                Err(e) => return vec![format!("the API server does not answer: {e}")],
            }
        }
        let rules = match self.listed().await {
            Ok(rules) => rules,
            Err(e) => return vec![e],
        };
        let owners = match self.owners().await {
            Ok(owners) => owners,
            Err(e) => return vec![e],
        };
        for rule in &rules {
            let name = format!(
                "{}/{}",
                rule.namespace().unwrap_or_default(),
                rule.name_any()
            );
            if rule.metadata.deletion_timestamp.is_some() {
                out.push(format!("{name} is still being deleted"));
                continue;
            }
            let at_generation = rule.status.as_ref().and_then(|s| s.observed_generation)
                == rule.metadata.generation;
            let reason = ready_reason(rule);
            if !at_generation
                || !matches!(
                    reason.as_deref(),
                    Some("True/InSync") | Some("False/Conflict")
                )
            {
                out.push(format!(
                    "{name} is neither Ready nor waiting on an owner: {reason:?}"
                ));
            }
            for t in rule.status.iter().flat_map(|s| &s.tasks) {
                if t.state != TaskState::Conflict {
                    continue;
                }
                let key = (
                    t.source_organization.clone(),
                    t.repository.clone(),
                    t.target_region.clone(),
                    t.target_organization.clone(),
                );
                let holder = t
                    .other_rule
                    .as_ref()
                    .map(|r| r.name.clone())
                    .unwrap_or_default();
                if !owners.get(&key).is_some_and(|o| o.contains(&holder)) {
                    out.push(format!(
                        "{name} waits for {holder}, which does not own {key:?}"
                    ));
                }
            }
        }
        let listed = self.replicas.admin.tasks().await;
        let found = fleet::tasks_of(&listed);
        let count = listed.as_array().map_or(0, Vec::len);
        if count != found.len() {
            out.push(format!("{} duplicated task(s)", count - found.len()));
        }
        for (t, by) in &owners {
            if by.len() > 1 {
                out.push(format!("{t:?} owned by {} rules: {by:?}", by.len()));
            }
            if !found.contains(t) {
                out.push(format!("{t:?} owned by {by:?} but missing in SWR"));
            }
        }
        for t in &found {
            if !owners.contains_key(t) && !self.foreign.contains(t) && !self.unowned_ok.contains(t)
            {
                out.push(format!("task leaked (no owner, not made outside): {t:?}"));
            }
        }
        for t in self.foreign.difference(&found) {
            out.push(format!("a task made outside was deleted: {t:?}"));
        }
        for i in self.live() {
            for t in self.wanted_by(i).difference(&found) {
                out.push(format!("{t:?}, wanted by rule {i}, is missing"));
            }
        }
        out
    }
}
