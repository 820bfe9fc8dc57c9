//! HSS (Host Security Service): asking it to refresh its image list from SWR.

use serde::{Deserialize, Serialize};

/// Image types HSS can refresh from SWR.
pub const IMAGE_TYPES: [&str; 2] = ["private_image", "shared_image"];

/// Body of `POST /v5/{project_id}/image/synchronize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynchronizeRequest {
    /// `private_image` or `shared_image`.
    pub image_type: String,
}

/// HSS's answer to a synchronize request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynchronizeResult {
    /// 0 on success.
    #[serde(default)]
    pub error_code: i64,
    /// "success" or why not.
    #[serde(default)]
    pub error_description: String,
}
