//! A local stand-in for SWR, HSS and IAM: the sync task, manual sync, listing, tag deletion
//! and HSS refresh APIs with SWR's validation and error bodies, real SDK-HMAC-SHA256 and IAM
//! token checks, multi-region replication, fault injection and an admin API. See
//! `docs/emulator.md`.

mod admin;
mod app;
mod auth;
mod calls;
pub mod config;
mod errors;
mod faults;
#[cfg(test)]
mod fixtures;
mod hss_api;
mod iam_api;
mod jobs;
mod listing;
mod paging;
mod replication;
mod repo_query;
mod router;
mod server;
mod state;
mod swr_api;
mod tags;
mod tasks;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::EmulatorConfig;
pub use config::SwrErrorFormat;

/// Flags of `swr-sync-operator emulator`; each overrides the configuration file.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, env = "SWR_EMULATOR_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// YAML start-up state and credentials (default: the embedded examples/emulator.yaml).
    #[arg(long, env = "SWR_EMULATOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Region of requests without a `/{region}` path prefix.
    #[arg(long, env = "SWR_EMULATOR_DEFAULT_REGION")]
    pub default_region: Option<String>,
    /// Accepted distance between X-Sdk-Date and the clock (e.g. 15m).
    #[arg(long, env = "SWR_EMULATOR_MAX_CLOCK_SKEW", value_parser = config::parse_duration)]
    pub max_clock_skew: Option<Duration>,
    /// Lifetime of IAM tokens (e.g. 24h).
    #[arg(long, env = "SWR_EMULATOR_TOKEN_LIFETIME", value_parser = config::parse_duration)]
    pub token_lifetime: Option<Duration>,
    /// Serve `/_admin/` to non-loopback peers too.
    #[arg(long, env = "SWR_EMULATOR_ADMIN_ALLOW_REMOTE")]
    pub admin_allow_remote: bool,
    /// SWR error bodies: `object` (current regions) or `array` (older regions).
    #[arg(long, env = "SWR_EMULATOR_SWR_ERROR_FORMAT", value_enum)]
    pub swr_error_format: Option<config::SwrErrorFormat>,
}

impl EmulatorArgs {
    /// The configuration: the file (or the embedded default) with the flags applied.
    pub fn load_config(&self) -> anyhow::Result<EmulatorConfig> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                EmulatorConfig::from_yaml(&text).with_context(|| path.display().to_string())?
            }
            None => EmulatorConfig::embedded_default(),
        };
        if let Some(region) = &self.default_region {
            config.default_region = region.clone();
        }
        config.max_clock_skew = self.max_clock_skew.unwrap_or(config.max_clock_skew);
        config.token_lifetime = self.token_lifetime.unwrap_or(config.token_lifetime);
        config.admin_allow_remote |= self.admin_allow_remote;
        config.swr_error_format = self.swr_error_format.unwrap_or(config.swr_error_format);
        Ok(config)
    }
}

/// Starts emulators.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Checks `config`, binds `addr` (port 0 picks a free port) and serves until the handle
    /// is shut down or dropped.
    pub async fn start(config: EmulatorConfig, addr: SocketAddr) -> anyhow::Result<EmulatorHandle> {
        config.check()?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopping) = watch::channel(false);
        let app = Arc::new(app::App::new(config, stopping.clone()));
        let service = server::service(app).into_make_service_with_connect_info::<SocketAddr>();
        let mut signal = stopping;
        let task = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = signal.wait_for(|s| *s).await;
                })
                .await
        });
        Ok(EmulatorHandle {
            addr,
            stop,
            task: Some(task),
        })
    }
}

/// A running emulator. Dropping it stops the server in the background.
#[derive(Debug)]
pub struct EmulatorHandle {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl EmulatorHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`: the default region's endpoint (and the admin API's base).
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }

    /// `http://HOST:PORT/{region}`: an endpoint template for every region and service.
    pub fn endpoint_template(&self) -> String {
        format!("{}/{{region}}", self.base_url())
    }

    /// Stops accepting, releases hanging requests and waits for open ones to finish.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        match self.task.take() {
            Some(task) => Ok(task.await??),
            None => Ok(()),
        }
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Runs the emulator until Ctrl-C or SIGTERM.
pub async fn run_cli(args: EmulatorArgs) -> anyhow::Result<()> {
    let config = args.load_config()?;
    let default_region = config.default_region.clone();
    if !args.listen.ip().is_loopback() && !config.admin_allow_remote {
        tracing::warn!(
            listen = %args.listen,
            "listening beyond loopback; /_admin/ still answers loopback peers only"
        );
    }
    let handle = Emulator::start(config, args.listen).await?;
    println!(
        "emulator listening on {} (default region {default_region}; region prefix: {})",
        handle.base_url(),
        handle.endpoint_template()
    );
    crate::run::shutdown_signal().await;
    tracing::info!("emulator stopping");
    handle.shutdown().await
}
