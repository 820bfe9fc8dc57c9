//! Test data shared by the emulator's unit tests: the demo state and common values.

use super::config::EmulatorConfig;
use super::state::{Actor, World};
use crate::swr::model::CreateSyncTask;
use crate::swr::SourceRepo;

/// The embedded demo configuration's state.
pub fn world() -> World {
    World::from_config(&EmulatorConfig::embedded_default())
}

/// cn-north-4's platform/nginx.
pub fn nginx() -> SourceRepo {
    SourceRepo::new("cn-north-4", "platform", "nginx").unwrap()
}

/// A caller of the demo domain.
pub fn actor() -> Actor {
    Actor {
        domain_id: "d".into(),
        domain_name: "example-domain".into(),
        operator_id: "u".into(),
        operator_name: "swr-operator".into(),
    }
}

/// A create-task body.
pub fn task(region: &str, org: &str, sync_auto: bool, override_existing: bool) -> CreateSyncTask {
    CreateSyncTask {
        remote_region_id: region.into(),
        remote_namespace: org.into(),
        sync_auto,
        override_existing,
    }
}
