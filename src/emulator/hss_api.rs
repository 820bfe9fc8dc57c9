//! HSS handler: `POST /v5/{project_id}/image/synchronize`, asking HSS to refresh its image
//! list from SWR; the emulator records each accepted call.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;

use super::app::{json, CloudCall};
use super::auth::Caller;
use super::errors::{Failure, HSS_ACCESS_DENIED, HSS_INSUFFICIENT_PERMISSIONS};
use super::state::HssEvent;
use crate::hss::{SynchronizeRequest, SynchronizeResult, IMAGE_TYPES, OP_IMAGE_SYNCHRONIZE};

/// Header the SDKs send with the credentials' project id.
const PROJECT_HEADER: &str = "x-project-id";

/// Accepts a refresh for the caller's own project in the routed region. The `region` header
/// is not used for routing (the path prefix is), as the SDK's vector shows.
pub fn synchronize(
    call: &CloudCall<'_>,
    caller: &Caller,
    project_id: &str,
) -> Result<Response, Failure> {
    if !caller.may(OP_IMAGE_SYNCHRONIZE) {
        return Err(Failure::bad_request(format!(
            "Insufficient permissions: the access key may not call {OP_IMAGE_SYNCHRONIZE}"
        ))
        .with_code(HSS_INSUFFICIENT_PERMISSIONS));
    }
    let own = caller.project_in(&call.app.config, call.region);
    let header_differs = call.header(PROJECT_HEADER).is_some_and(|h| h != project_id);
    if own.as_deref() != Some(project_id) || header_differs {
        // HSS answers every error 400; another project's path is "Access denied".
        return Err(Failure::bad_request(format!(
            "Access denied: project {project_id} is not the caller's project in {}",
            call.region
        ))
        .with_code(HSS_ACCESS_DENIED));
    }
    let body: SynchronizeRequest = call.json()?;
    if !IMAGE_TYPES.contains(&body.image_type.as_str()) {
        return Err(Failure::bad_request(format!(
            "image_type must be one of {IMAGE_TYPES:?}"
        )));
    }
    call.app.world().hss_events.push(HssEvent {
        region: call.region.to_string(),
        project_id: project_id.to_string(),
        image_type: body.image_type,
        enterprise_project_id: call.query("enterprise_project_id").map(String::from),
        at: Utc::now(),
    });
    Ok(json(
        StatusCode::OK,
        &SynchronizeResult {
            error_code: 0,
            error_description: "success".into(),
        },
    ))
}
