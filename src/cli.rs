//! Command-line interface: the subcommands and their flags (every flag has an env fallback).

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::validate::parse_duration;
use crate::cloud::endpoint::{self, EndpointTemplate, Endpoints};
use crate::cloud::transport::RetryPolicy;
use crate::cloud::{Transport, TransportConfig};
use crate::reconcile::context::ReconcilerConfig;
use crate::reconcile::controller::{self, ControllerConfig};
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
    Run(RunArgs),
    /// Print the ImageSyncRule CustomResourceDefinition (YAML).
    Crdgen,
    /// Run a local SWR + HSS + IAM emulator (for development, demos and tests).
    Emulator(crate::emulator::EmulatorArgs),
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
    /// Rules reconciled at once.
    #[arg(long, env = "SWR_SYNC_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,
    /// HSS enterprise project for image list refreshes (e.g. `all_granted_eps`).
    #[arg(long, env = "SWR_SYNC_HSS_ENTERPRISE_PROJECT_ID")]
    pub hss_enterprise_project_id: Option<String>,
    /// Cloud client settings.
    #[command(flatten)]
    pub cloud: CloudArgs,
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
    /// Sustained cloud API calls per second, for the whole process.
    #[arg(long, env = "SWR_SYNC_SWR_QPS", default_value_t = 10.0)]
    pub swr_qps: f64,
    /// Cloud API calls allowed in a burst.
    #[arg(long, env = "SWR_SYNC_SWR_BURST", default_value_t = 20)]
    pub swr_burst: u32,
    /// Per-request timeout.
    #[arg(long, env = "SWR_SYNC_SWR_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    pub swr_timeout: Duration,
    /// Retries of idempotent calls (reads, deletes) on throttling, 5xx and timeouts.
    #[arg(long, env = "SWR_SYNC_SWR_MAX_RETRIES", default_value_t = 3)]
    pub swr_max_retries: u32,
}

impl CloudArgs {
    /// The transport these flags describe.
    pub fn transport(&self) -> anyhow::Result<Transport> {
        anyhow::ensure!(self.swr_qps > 0.0, "--swr-qps must be positive");
        let config = TransportConfig {
            endpoints: Endpoints {
                swr: EndpointTemplate::parse(&self.swr_endpoint)?,
                hss: EndpointTemplate::parse(&self.hss_endpoint)?,
                iam: EndpointTemplate::parse(&self.iam_endpoint)?,
            },
            timeout: self.swr_timeout,
            qps: self.swr_qps,
            burst: self.swr_burst,
            retry: RetryPolicy {
                max_retries: self.swr_max_retries,
                ..RetryPolicy::default()
            },
        };
        Ok(Transport::new(config)?)
    }
}

impl RunArgs {
    /// Runs the operator until SIGTERM or Ctrl-C.
    pub async fn run(self) -> anyhow::Result<()> {
        let transport = Arc::new(self.cloud.transport()?);
        let client = kube::Client::try_default().await?;
        let config = ControllerConfig {
            namespace: self.namespace,
            label_selector: self.label_selector,
            concurrency: self.concurrency.max(1),
            reporter: "swr-sync-operator".into(),
            reconciler: ReconcilerConfig {
                hss_enterprise_project_id: self.hss_enterprise_project_id,
            },
        };
        tracing::info!(namespace = ?config.namespace, selector = ?config.label_selector, "operator starting");
        // In-flight reconciles get a bounded grace period after SIGTERM, then the process
        // exits regardless (watch streams do not always end promptly on their own).
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let controller = controller::run(client, transport, config, async move {
            let _ = stopped.await;
        });
        tokio::pin!(controller);
        tokio::select! {
            () = &mut controller => {}
            () = shutdown_signal() => {
                tracing::info!("shutdown requested; finishing in-flight reconciles");
                let _ = stop.send(());
                if tokio::time::timeout(SHUTDOWN_GRACE, controller).await.is_err() {
                    tracing::warn!("reconciles still running after {SHUTDOWN_GRACE:?}; exiting");
                }
            }
        }
        tracing::info!("operator stopped");
        Ok(())
    }
}

/// Longest wait for in-flight reconciles after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

impl Cli {
    /// Runs the chosen subcommand to completion.
    pub async fn run(self) -> anyhow::Result<()> {
        crate::telemetry::init(self.log_format, &self.log_level)?;
        match self.command {
            Command::Run(args) => args.run().await,
            Command::Crdgen => {
                print!("{}", crate::api::crd::crd_yaml());
                Ok(())
            }
            Command::Emulator(args) => crate::emulator::run_cli(args).await,
        }
    }
}
