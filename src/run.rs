//! The operator process: serves health and metrics, takes part in the leader election,
//! reconciles while it leads, and stops gracefully (in-flight reconciles finish, within a
//! bound, while the Lease is still renewed; then the Lease is released).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::cloud::Transport;
use crate::leader::{Elector, LeaseConfig, Lost};
use crate::reconcile::controller::{self, ControllerConfig};
use crate::server;

/// Everything the process needs besides its clients.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What to watch and how.
    pub controller: ControllerConfig,
    /// Leader election (None: reconcile at once, for a single replica).
    pub election: Option<LeaseConfig>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub metrics_address: SocketAddr,
    /// Longest wait for in-flight reconciles after a stop is requested.
    pub grace: Duration,
}

/// How a spell of leadership ended.
enum Outcome {
    /// A stop was requested; in-flight reconciles finished (or the grace ran out).
    Stopped,
    /// Another process leads now, or the Lease could not be renewed.
    Lost(Lost),
}

/// Runs until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    transport: Arc<Transport>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = settings.controller.metrics.clone();
    let health = settings.controller.health.clone();
    let listener = tokio::net::TcpListener::bind(settings.metrics_address).await?;
    tracing::info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    let (server_stop, server_stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, metrics, health, async move {
        let _ = server_stopped.await;
    }));
    let leader = Leader {
        client,
        transport,
        settings,
    };
    let shutdown = Box::pin(shutdown);
    match leader.settings.election.clone() {
        None => {
            leader.lead(shutdown, std::future::pending()).await;
        }
        Some(lease) => leader.elect(lease, shutdown).await,
    }
    let _ = server_stop.send(());
    let _ = server.await;
    tracing::info!("operator stopped");
    Ok(())
}

/// What a spell of leadership needs.
struct Leader {
    client: kube::Client,
    transport: Arc<Transport>,
    settings: Settings,
}

impl Leader {
    /// Standby until elected, lead until stopped or deposed, and again.
    async fn elect(&self, lease: LeaseConfig, mut shutdown: ShutdownFuture) {
        let mut elector = Elector::new(self.client.clone(), lease);
        loop {
            // A standby is healthy and ready: it serves its purpose by waiting.
            self.settings.controller.health.set_ready(true);
            tokio::select! {
                () = elector.acquire() => {}
                () = &mut shutdown => return,
            }
            let outcome = {
                let lost = elector.hold();
                self.lead(&mut shutdown, lost).await
            };
            match outcome {
                Outcome::Stopped => {
                    if let Err(e) = elector.release().await {
                        tracing::warn!(error = %e, "could not release the Lease; it expires by itself");
                    }
                    return;
                }
                Outcome::Lost(lost) => {
                    tracing::warn!(?lost, "lost leadership; reconciles stopped, standing by")
                }
            }
        }
    }

    /// Runs the controller until `shutdown` (graceful) or `lost` (immediate: another
    /// replica may already be reconciling).
    async fn lead(
        &self,
        shutdown: impl Future<Output = ()> + Unpin,
        lost: impl Future<Output = Lost>,
    ) -> Outcome {
        self.settings.controller.metrics.set_leader(true);
        self.settings.controller.health.set_ready(false);
        let (stop, stopped) = oneshot::channel::<()>();
        let controller = controller::run(
            self.client.clone(),
            self.transport.clone(),
            self.settings.controller.clone(),
            async move {
                let _ = stopped.await;
            },
        );
        tokio::pin!(controller, lost);
        let outcome = tokio::select! {
            () = &mut controller => Outcome::Stopped,
            lost = &mut lost => Outcome::Lost(lost),
            () = shutdown => {
                tracing::info!("shutdown requested; finishing in-flight reconciles");
                let _ = stop.send(());
                // The Lease is still renewed while the reconciles drain, so no other replica
                // starts on the same rules meanwhile.
                tokio::select! {
                    done = tokio::time::timeout(self.settings.grace, &mut controller) => {
                        if done.is_err() {
                            tracing::warn!(grace = ?self.settings.grace, "reconciles still running after the grace period; stopping them");
                        }
                    }
                    lost = &mut lost => tracing::warn!(?lost, "lost leadership while stopping"),
                }
                Outcome::Stopped
            }
        };
        self.settings.controller.metrics.set_leader(false);
        outcome
    }
}

type ShutdownFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

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
