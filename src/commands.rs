//! What each subcommand does with the flags `cli` parsed.

use std::sync::Arc;

use crate::cli::{Cli, Command, RunArgs};
use crate::metrics::Metrics;
use crate::reconcile::context::ReconcilerConfig;
use crate::reconcile::controller::{default_concurrency, ControllerConfig};
use crate::run::{self, Settings};

/// Runs the chosen subcommand to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::telemetry::init(cli.log_format, &cli.log_level)?;
    match cli.command {
        Command::Run(args) => operate(*args).await,
        Command::Crdgen => {
            print!("{}", crate::api::crd::crd_yaml());
            Ok(())
        }
        Command::Emulator(args) => crate::emulator::run_cli(args).await,
        Command::Plan(args) => {
            let code = crate::preview::run(*args).await?;
            std::process::exit(code)
        }
    }
}

/// `run`: the operator, until SIGTERM or Ctrl-C.
async fn operate(args: RunArgs) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let transport = Arc::new(args.cloud.transport()?.with_metrics(metrics.clone()));
    let client = kube::Client::try_default().await?;
    let settings = Settings {
        controller: ControllerConfig {
            namespace: args.namespace,
            label_selector: args.label_selector,
            concurrency: args
                .concurrency
                .unwrap_or_else(|| default_concurrency(transport.config().in_flight()))
                .max(1),
            reporter: "swr-sync-operator".into(),
            reconciler: ReconcilerConfig {
                hss_enterprise_project_id: args.hss_enterprise_project_id,
                hss_debounce: args.hss_debounce,
                swr_list_ttl: args.swr_list_ttl,
                verify_grace: args.verify_grace,
            },
            metrics,
            health: Arc::default(),
        },
        election: args.election.lease()?,
        metrics_address: args.metrics_address,
        grace: args.shutdown_grace,
    };
    tracing::info!(
        namespace = settings.controller.namespace.as_deref().unwrap_or("(all)"),
        selector = settings.controller.label_selector.as_deref().unwrap_or("(none)"),
        lease = %settings.election.as_ref().map_or("(no election)".into(), |l| format!("{}/{}", l.namespace, l.name)),
        "operator starting"
    );
    run::run(client, transport, settings, run::shutdown_signal()).await
}
