//! Command-line interface: the subcommands and their flags (every flag has an env fallback),
//! and the settings the flags describe. What the subcommands do is in `commands`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::api::validate::parse_duration;
use crate::cloud::endpoint::{self, EndpointTemplate, Endpoints};
use crate::cloud::transport::RetryPolicy;
use crate::cloud::{Transport, TransportConfig};
use crate::leader::LeaseConfig;
use crate::telemetry::LogFormat;

/// Keeps Huawei Cloud SWR cross-region image sync tasks in line with ImageSyncRule resources.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "SWR_SYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax, e.g. `info,swr_sync_operator=debug`).
    #[arg(long, env = "SWR_SYNC_LOG", default_value = "info", global = true)]
    pub log_level: String,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator.
    Run(Box<RunArgs>),
    /// Print the ImageSyncRule CustomResourceDefinition (YAML).
    Crdgen,
    /// Run a local SWR + HSS + IAM emulator (for development, demos and tests).
    Emulator(crate::emulator::EmulatorArgs),
    /// Show what the operator would change for some rules, changing nothing. Exit code: 0
    /// nothing to do, 2 changes pending, 1 a rule cannot be planned.
    Plan(Box<PlanArgs>),
}

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "SWR_SYNC_NAMESPACE")]
    pub namespace: Option<String>,
    /// Watch only rules matching this label selector (to split rules between deployments).
    #[arg(long, env = "SWR_SYNC_LABEL_SELECTOR")]
    pub label_selector: Option<String>,
    /// Rules reconciled at once (default: as many as cloud requests may be in flight,
    /// `--swr-max-in-flight`, and at least 8). The rate limit, not this, paces the cloud
    /// calls; a rule mostly waits for them, so this only has to keep the limiter busy.
    #[arg(long, env = "SWR_SYNC_CONCURRENCY")]
    pub concurrency: Option<u16>,
    /// HSS enterprise project for image list refreshes (e.g. `all_granted_eps`), for rules
    /// that set none.
    #[arg(long, env = "SWR_SYNC_HSS_ENTERPRISE_PROJECT_ID")]
    pub hss_enterprise_project_id: Option<String>,
    /// At most one HSS refresh per account, region and image type in this interval.
    #[arg(long, env = "SWR_SYNC_HSS_DEBOUNCE", default_value = "1m", value_parser = parse_duration)]
    pub hss_debounce: Duration,
    /// How long one repository's task listing serves the other rules that replicate it
    /// (0s: every rule lists for itself). Changes made outside the operator show up at
    /// most this much later.
    #[arg(long, env = "SWR_SYNC_SWR_LIST_TTL", default_value = "1m", value_parser = parse_duration)]
    pub swr_list_ttl: Duration,
    /// Verification (`spec.verify`) does not judge tags pushed more recently than this: SWR
    /// may not have recorded their replication yet.
    #[arg(long, env = "SWR_SYNC_VERIFY_GRACE", default_value = "2m", value_parser = parse_duration)]
    pub verify_grace: Duration,
    /// Address of the /metrics, /healthz and /readyz server.
    #[arg(long, env = "SWR_SYNC_METRICS_ADDRESS", default_value = "0.0.0.0:8080")]
    pub metrics_address: SocketAddr,
    /// Longest wait for in-flight reconciles after SIGTERM.
    #[arg(long, env = "SWR_SYNC_SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Leader election settings.
    #[command(flatten)]
    pub election: ElectionArgs,
    /// Cloud client settings.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Leader election flags.
#[derive(Debug, Clone, Args)]
pub struct ElectionArgs {
    /// Elect a leader among replicas with a Lease (`--leader-elect=false` for a single one).
    #[arg(long, env = "SWR_SYNC_LEADER_ELECT", default_value_t = true, action = ArgAction::Set)]
    pub leader_elect: bool,
    /// Namespace of the Lease (default: $POD_NAMESPACE, else `default`).
    #[arg(long, env = "SWR_SYNC_LEADER_ELECTION_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Name of the Lease; deployments that split the rules need one each.
    #[arg(
        long,
        env = "SWR_SYNC_LEADER_ELECTION_LEASE_NAME",
        default_value = "swr-sync-operator"
    )]
    pub leader_election_lease_name: String,
    /// Identity in the Lease (default: $POD_NAME, else host name and pid).
    #[arg(long, env = "SWR_SYNC_LEADER_ELECTION_IDENTITY")]
    pub leader_election_identity: Option<String>,
    /// How long a Lease is valid without renewal (a dead leader's successor waits this long).
    #[arg(long, env = "SWR_SYNC_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long a leader keeps trying to renew before it stops reconciling.
    #[arg(long, env = "SWR_SYNC_LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s", value_parser = parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// Pause between attempts to acquire or renew the Lease.
    #[arg(long, env = "SWR_SYNC_LEADER_ELECTION_RETRY_PERIOD", default_value = "2s", value_parser = parse_duration)]
    pub leader_election_retry_period: Duration,
}

impl ElectionArgs {
    /// The election these flags describe, or None when it is off.
    pub fn lease(&self) -> anyhow::Result<Option<LeaseConfig>> {
        if !self.leader_elect {
            return Ok(None);
        }
        let namespace = self
            .leader_election_namespace
            .clone()
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|n| !n.is_empty())
            })
            .unwrap_or_else(|| "default".into());
        let identity = self
            .leader_election_identity
            .clone()
            .unwrap_or_else(crate::leader::default_identity);
        let lease = LeaseConfig {
            lease_duration: self.leader_election_lease_duration,
            renew_deadline: self.leader_election_renew_deadline,
            retry_period: self.leader_election_retry_period,
            ..LeaseConfig::new(&namespace, &self.leader_election_lease_name, &identity)
        };
        lease.check().map_err(anyhow::Error::msg)?;
        Ok(Some(lease))
    }
}

/// Cloud client flags.
#[derive(Debug, Clone, Args)]
pub struct CloudArgs {
    /// SWR endpoint template (`{region}` is replaced).
    #[arg(long, env = "SWR_SYNC_SWR_ENDPOINT", default_value = endpoint::DEFAULT_SWR)]
    pub swr_endpoint: String,
    /// HSS endpoint template.
    #[arg(long, env = "SWR_SYNC_HSS_ENDPOINT", default_value = endpoint::DEFAULT_HSS)]
    pub hss_endpoint: String,
    /// IAM endpoint template.
    #[arg(long, env = "SWR_SYNC_IAM_ENDPOINT", default_value = endpoint::DEFAULT_IAM)]
    pub iam_endpoint: String,
    /// One region's endpoint of one service, before the templates, as
    /// `service:region=url` (e.g. `swr:cn-north-4=https://swr.private.example`); repeatable,
    /// comma-separated in the environment. For private or dedicated clouds.
    #[arg(
        long = "endpoint-override",
        env = "SWR_SYNC_ENDPOINT_OVERRIDES",
        value_delimiter = ','
    )]
    pub endpoint_overrides: Vec<String>,
    /// Sustained cloud API calls per second, for the whole process.
    #[arg(long, env = "SWR_SYNC_SWR_QPS", default_value_t = 10.0)]
    pub swr_qps: f64,
    /// Cloud API calls allowed in a burst (within `--swr-qps` calls in any second).
    #[arg(long, env = "SWR_SYNC_SWR_BURST", default_value_t = 10)]
    pub swr_burst: u32,
    /// Cloud API requests in flight at once, for the whole process (default: one second of
    /// calls at `--swr-qps`, so that the rate limit governs at any latency under a second).
    #[arg(long, env = "SWR_SYNC_SWR_MAX_IN_FLIGHT", value_parser = clap::value_parser!(u32).range(1..))]
    pub swr_max_in_flight: Option<u32>,
    /// Per-request timeout.
    #[arg(long, env = "SWR_SYNC_SWR_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub swr_timeout: Duration,
    /// Retries of idempotent calls (reads) on throttling, 5xx and timeouts.
    #[arg(long, env = "SWR_SYNC_SWR_MAX_RETRIES", default_value_t = 3)]
    pub swr_max_retries: u32,
}

impl CloudArgs {
    /// The transport these flags describe.
    pub fn transport(&self) -> anyhow::Result<Transport> {
        anyhow::ensure!(self.swr_qps > 0.0, "--swr-qps must be positive");
        let mut endpoints = Endpoints {
            swr: EndpointTemplate::parse(&self.swr_endpoint)?,
            hss: EndpointTemplate::parse(&self.hss_endpoint)?,
            iam: EndpointTemplate::parse(&self.iam_endpoint)?,
            overrides: Default::default(),
        };
        for spec in &self.endpoint_overrides {
            endpoints.add_override(spec)?;
        }
        let config = TransportConfig {
            endpoints,
            timeout: self.swr_timeout,
            qps: self.swr_qps,
            burst: self.swr_burst,
            max_in_flight: self.swr_max_in_flight,
            retry: RetryPolicy {
                max_retries: self.swr_max_retries,
                ..RetryPolicy::default()
            },
        };
        Ok(Transport::new(config)?)
    }
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// One JSON document.
    Json,
}

/// Flags of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Rules from these YAML files (other kinds are skipped); default: the cluster's rules.
    #[arg(
        short = 'f',
        long = "filename",
        env = "SWR_SYNC_PLAN_FILES",
        value_delimiter = ','
    )]
    pub files: Vec<PathBuf>,
    /// Namespace of the cluster's rules to plan, and of file rules that name none.
    #[arg(long, env = "SWR_SYNC_NAMESPACE")]
    pub namespace: Option<String>,
    /// A Secret manifest with the SWR credentials to use for every rule (default: each
    /// rule's Secret, read from the cluster).
    #[arg(long, env = "SWR_SYNC_PLAN_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, env = "SWR_SYNC_PLAN_OUTPUT", value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Verification does not judge tags pushed more recently than this (as `run`).
    #[arg(long, env = "SWR_SYNC_VERIFY_GRACE", default_value = "2m", value_parser = parse_duration)]
    pub verify_grace: Duration,
    /// Cloud client settings.
    #[command(flatten)]
    pub cloud: CloudArgs,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn every_flag_has_an_environment_variable() {
        let cli = Cli::command();
        let missing: Vec<_> = cli
            .get_subcommands()
            .flat_map(|c| c.get_arguments())
            .chain(cli.get_arguments())
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .filter(|a| a.get_env().is_none())
            .map(|a| a.get_id().to_string())
            .collect();
        assert!(missing.is_empty(), "flags without an env var: {missing:?}");
    }

    #[test]
    fn leader_election_can_be_switched_off_and_refuses_unsafe_timing() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["swr-sync-operator", "run"], args].concat()).unwrap();
            let Command::Run(run) = cli.command else {
                panic!("not run")
            };
            run.election.lease()
        };
        assert!(parse(&["--leader-elect=false"]).unwrap().is_none());
        let lease = parse(&["--leader-election-namespace", "ops"])
            .unwrap()
            .unwrap();
        assert_eq!(
            (lease.namespace.as_str(), lease.name.as_str()),
            ("ops", "swr-sync-operator")
        );
        assert!(parse(&["--leader-election-renew-deadline", "20s"]).is_err());
    }
}
