//! Leader election on a `coordination.k8s.io/v1` Lease: of several replicas only the holder
//! reconciles. A stopping holder releases the Lease; a dead one loses it once it expires.
//!
//! The rules are client-go's: a Lease is valid for `leaseDurationSeconds` after this process
//! last *saw it change* (its own clock, never the writer's, so clock skew between nodes does
//! not matter); writes carry the resourceVersion read, so two candidates cannot both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use tokio::time::Instant;

/// Where the Lease lives, who we are, and the timing (client-go's defaults: 15 s, 10 s, 2 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// Lease name; deployments that split rules between them need different names.
    pub name: String,
    /// This process's identity, written as the holder (the pod name in a cluster).
    pub identity: String,
    /// How long a Lease stays valid without renewal; a dead leader is replaced after this.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leadership.
    pub renew_deadline: Duration,
    /// Pause between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Default timing for a Lease `namespace/name` held as `identity`.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Rejects timings under which two leaders could overlap.
    pub fn check(&self) -> Result<(), String> {
        if self.renew_deadline >= self.lease_duration {
            return Err("the renew deadline must be shorter than the lease duration".into());
        }
        if self.retry_period >= self.renew_deadline {
            return Err("the retry period must be shorter than the renew deadline".into());
        }
        Ok(())
    }
}

/// A failed read or write of the Lease.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the Lease failed.
    #[error("reading Lease: {0}")]
    ReadLease(#[source] kube::Error),
    /// Creating or updating the Lease failed (other than losing a race).
    #[error("writing Lease: {0}")]
    WriteLease(#[source] kube::Error),
}

impl Error {
    /// Metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::ReadLease(_) => "read_lease",
            Self::WriteLease(_) => "write_lease",
        }
    }
}

/// Why a leader stopped being one.
#[derive(Debug)]
pub enum Lost {
    /// Another process holds the Lease now.
    TakenBy(String),
    /// Renewing kept failing for longer than the renew deadline.
    RenewFailed(Error),
}

/// The outcome of one attempt.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// We hold the Lease (freshly taken or renewed).
    Held,
    /// Someone else does (or won the race for it).
    HeldBy(String),
}

/// One candidate in the election.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    // The Lease's resourceVersion when last read, and when it was first seen with it.
    observed: Option<(String, Instant)>,
}

impl Elector {
    /// A candidate that has not looked at the Lease yet.
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }
    }

    /// The election's settings.
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// Waits until this process holds the Lease.
    pub async fn acquire(&mut self) {
        let mut last_holder = None;
        loop {
            match self.attempt().await {
                Ok(Attempt::Held) => {
                    tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
                    return;
                }
                Ok(Attempt::HeldBy(holder)) => {
                    if last_holder.as_ref() != Some(&holder) {
                        tracing::info!(lease = %self.config.name, %holder, "waiting for the leader's Lease to be released or expire");
                        last_holder = Some(holder);
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = %self.config.name, error = %e, "leader election attempt failed")
                }
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews the Lease every retry period; returns when leadership is lost.
    pub async fn hold(&mut self) -> Lost {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            match self.attempt().await {
                Ok(Attempt::Held) => renewed = Instant::now(),
                Ok(Attempt::HeldBy(holder)) => return Lost::TakenBy(holder),
                Err(e) if renewed.elapsed() >= self.config.renew_deadline => {
                    return Lost::RenewFailed(e)
                }
                Err(e) => {
                    tracing::warn!(lease = %self.config.name, error = %e, "renewing the Lease failed; retrying")
                }
            }
        }
    }

    /// Gives the Lease up, so another replica takes over at once instead of after expiry.
    /// Does nothing when another process holds it.
    pub async fn release(&mut self) -> Result<(), Error> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.config.name)
            .await
            .map_err(Error::ReadLease)?
        else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
            .map_err(Error::WriteLease)?;
        tracing::info!(lease = %self.config.name, "released the Lease");
        Ok(())
    }

    /// One round: creates, takes over or renews the Lease when this process may.
    async fn attempt(&mut self) -> Result<Attempt, Error> {
        let name = self.config.name.clone();
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&name).await.map_err(Error::ReadLease)? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, None, 0)),
            };
            return self.write(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        self.observe(&lease);
        let mine = holder.as_deref() == Some(self.config.identity.as_str());
        if let (false, Some(other)) = (mine, &holder) {
            if self.valid_for(&spec) {
                return Ok(Attempt::HeldBy(other.clone()));
            }
        }
        let (acquired, transitions) = match mine {
            true => (spec.acquire_time, spec.lease_transitions.unwrap_or(0)),
            false => (None, spec.lease_transitions.unwrap_or(0).saturating_add(1)),
        };
        lease.spec = Some(self.spec(now, acquired, transitions));
        let result = self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await;
        self.write(result)
    }

    /// The spec of a Lease this process holds.
    fn spec(&self, now: Timestamp, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(whole_seconds(self.config.lease_duration)),
            acquire_time: acquired.or(Some(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Interprets a create or replace: success holds the Lease, a conflict lost a race.
    fn write(&mut self, result: Result<Lease, kube::Error>) -> Result<Attempt, Error> {
        match result {
            Ok(lease) => {
                self.observe(&lease);
                Ok(Attempt::Held)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Ok(Attempt::HeldBy("(a concurrent candidate)".into()))
            }
            Err(e) => Err(Error::WriteLease(e)),
        }
    }

    /// Notes when the Lease was first seen at its current resourceVersion.
    fn observe(&mut self, lease: &Lease) {
        let resource_version = lease
            .metadata
            .resource_version
            .as_deref()
            .unwrap_or_default();
        if self.observed.as_ref().map(|(rv, _)| rv.as_str()) != Some(resource_version) {
            self.observed = Some((resource_version.to_string(), Instant::now()));
        }
    }

    /// Whether a Lease held by another process is still valid, by our own clock.
    fn valid_for(&self, spec: &LeaseSpec) -> bool {
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.config.lease_duration, Duration::from_secs);
        self.observed
            .as_ref()
            .is_some_and(|(_, seen)| seen.elapsed() < duration)
    }
}

/// A duration in whole seconds for `leaseDurationSeconds`, rounded up, at least 1.
fn whole_seconds(duration: Duration) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs.max(1)).unwrap_or(i32::MAX)
}

/// This process's identity: the pod name when running in a pod, else host name and pid.
pub fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME") {
        if !pod.is_empty() {
            return pod;
        }
    }
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_rounds_up() {
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(15)), 15);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn timings_that_allow_two_leaders_are_refused() {
        let ok = LeaseConfig::new("ns", "lease", "me");
        assert_eq!(ok.check(), Ok(()));
        let long_deadline = LeaseConfig {
            renew_deadline: Duration::from_secs(15),
            ..ok.clone()
        };
        assert!(long_deadline.check().is_err());
        let slow_retry = LeaseConfig {
            retry_period: Duration::from_secs(10),
            ..ok
        };
        assert!(slow_retry.check().is_err());
    }
}
