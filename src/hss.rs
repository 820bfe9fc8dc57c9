//! HSS (Host Security Service): asking it to refresh its image list from SWR.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::auth::signer;
use crate::cloud::{ApiError, CloudClient, CloudRequest, ErrorClass, Service};

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

/// Operation name of an image list refresh.
pub const OP_IMAGE_SYNCHRONIZE: &str = "hss.image_synchronize";

/// A failed HSS call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HssError {
    /// The image type is not one HSS knows.
    #[error("unknown HSS image type {0:?}; expected one of {IMAGE_TYPES:?}")]
    SynchronizeImageType(String),
    /// The project id of the region could not be found.
    #[error("finding the project of {region} for HSS: {error}")]
    SynchronizeProject {
        /// Region.
        region: String,
        /// Cause.
        error: ApiError,
    },
    /// The synchronize call failed.
    #[error("asking HSS in {region} to refresh its image list: {error}")]
    Synchronize {
        /// Region.
        region: String,
        /// Cause.
        error: ApiError,
    },
}

impl HssError {
    /// A code for the status: HSS's or the service's error code, else the HTTP status, else
    /// the error class.
    pub fn code(&self) -> String {
        match self {
            Self::SynchronizeImageType(_) => ErrorClass::InvalidRequest.label().to_string(),
            Self::SynchronizeProject { error, .. } | Self::Synchronize { error, .. } => error
                .evidence
                .code
                .clone()
                .or_else(|| error.status.map(|s| s.to_string()))
                .unwrap_or_else(|| error.class.label().to_string()),
        }
    }

    /// How to treat it.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::SynchronizeImageType(_) => ErrorClass::InvalidRequest,
            Self::SynchronizeProject { error, .. } | Self::Synchronize { error, .. } => error.class,
        }
    }
}

/// HSS over HTTP.
#[derive(Debug, Clone)]
pub struct HssClient {
    cloud: CloudClient,
}

impl HssClient {
    /// A client on top of an authenticated cloud client.
    pub fn new(cloud: CloudClient) -> Self {
        Self { cloud }
    }

    /// Asks HSS in `region` to refresh its list of `image_type` images from SWR.
    /// `enterprise_project_id` scopes it (`all_granted_eps` for every enterprise project).
    pub async fn synchronize_images(
        &self,
        region: &str,
        image_type: &str,
        enterprise_project_id: Option<&str>,
    ) -> Result<(), HssError> {
        if !IMAGE_TYPES.contains(&image_type) {
            return Err(HssError::SynchronizeImageType(image_type.to_string()));
        }
        let project =
            self.cloud
                .project_id(region)
                .await
                .map_err(|error| HssError::SynchronizeProject {
                    region: region.to_string(),
                    error,
                })?;
        let failed = |error| HssError::Synchronize {
            region: region.to_string(),
            error,
        };
        let mut request = CloudRequest::new(
            OP_IMAGE_SYNCHRONIZE,
            Service::Hss,
            region,
            Method::POST,
            format!("/v5/{}/image/synchronize", signer::escape(&project)),
        )
        .header("region", region)
        .json(&SynchronizeRequest {
            image_type: image_type.to_string(),
        })
        // Asking for a refresh twice is harmless.
        .idempotent(true);
        if let Some(ep) = enterprise_project_id {
            request = request.query("enterprise_project_id", ep);
        }
        let response = self.cloud.call(&request).await.map_err(failed)?;
        let result: SynchronizeResult = response.json().map_err(failed)?;
        if result.error_code != 0 {
            let mut error = ApiError::without_response(
                OP_IMAGE_SYNCHRONIZE,
                ErrorClass::InvalidRequest,
                result.error_description,
            );
            error.status = Some(response.status);
            error.evidence.code = Some(result.error_code.to_string());
            return Err(failed(error));
        }
        Ok(())
    }
}
