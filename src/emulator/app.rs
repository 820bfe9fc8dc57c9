//! What the emulator's handlers share: its state ([`App`]), a routed cloud request
//! ([`CloudCall`]) and the shapes of answers. The server routes to the handlers; the
//! handlers depend on this, not on the server.

use std::sync::Mutex;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

use super::auth::{header, Lockouts, Tokens};
use super::calls::Calls;
use super::config::EmulatorConfig;
use super::errors::Failure;
use super::faults::Faults;
use super::state::World;
use crate::auth::verify::ReceivedRequest;

/// Everything the handlers share.
#[derive(Debug)]
pub struct App {
    /// Start-up configuration (also the credentials).
    pub config: EmulatorConfig,
    /// The cloud's data, behind [`App::world`].
    world: Mutex<World>,
    /// IAM tokens issued. Kept across `/_admin/reset`: clients keep their sessions.
    pub tokens: Tokens,
    /// Access keys locked by failed signatures.
    pub lockouts: Lockouts,
    /// Faults in force.
    pub faults: Faults,
    /// Call counts.
    pub calls: Calls,
    /// Becomes true when the emulator stops; releases hanging requests.
    pub stopping: watch::Receiver<bool>,
}

impl App {
    /// Fresh state from `config`.
    pub fn new(config: EmulatorConfig, stopping: watch::Receiver<bool>) -> Self {
        Self {
            world: Mutex::new(World::from_config(&config)),
            config,
            tokens: Tokens::default(),
            lockouts: Lockouts::default(),
            faults: Faults::default(),
            calls: Calls::default(),
            stopping,
        }
    }

    /// Locks the cloud's data, with every copy moved on to where it stands now; never
    /// held across an await.
    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        let mut world = self.world.lock().expect("state lock");
        world.settle(Utc::now());
        world
    }
}

/// A cloud API request as the service handlers see it.
pub struct CloudCall<'a> {
    /// Shared state.
    pub app: &'a App,
    /// The routed region.
    pub region: &'a str,
    /// The raw request.
    pub request: ReceivedRequest<'a>,
    /// The decoded query.
    pub query: Vec<(String, String)>,
}

impl CloudCall<'_> {
    /// A decoded query parameter.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A request header.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.request, name)
    }

    /// The JSON body; 400 when it is not the expected shape.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Failure> {
        serde_json::from_slice(self.request.body)
            .map_err(|e| Failure::bad_request(format!("invalid request body: {e}")))
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, body: &impl Serialize) -> Response {
    (status, Json(body)).into_response()
}

/// 200 with an empty body, as SWR answers changes.
pub fn empty() -> Response {
    StatusCode::OK.into_response()
}
