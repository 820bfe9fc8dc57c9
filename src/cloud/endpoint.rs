//! Endpoint templates: `https://swr-api.{region}.myhuaweicloud.com`, or a local emulator's
//! `http://127.0.0.1:8787/{region}`. A path in the template is kept and signed.

use url::Url;

use crate::swr::names::{self, NameError, NameKind};

/// Where the region goes in a template.
pub const REGION_PLACEHOLDER: &str = "{region}";
/// Default SWR endpoint.
pub const DEFAULT_SWR: &str = "https://swr-api.{region}.myhuaweicloud.com";
/// Default HSS endpoint.
pub const DEFAULT_HSS: &str = "https://hss.{region}.myhuaweicloud.com";
/// Default IAM endpoint.
pub const DEFAULT_IAM: &str = "https://iam.{region}.myhuaweicloud.com";

/// Why a template or the URL made from it is unusable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EndpointError {
    /// The template does not become a valid http(s) URL.
    #[error("endpoint template {template:?} is not a valid http(s) URL: {reason}")]
    ParseTemplate {
        /// The template.
        template: String,
        /// Why.
        reason: String,
    },
    /// The region is not a valid region id (it would end up in a host name).
    #[error(transparent)]
    Region(#[from] NameError),
}

/// A URL template with an optional `{region}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointTemplate(String);

impl EndpointTemplate {
    /// Checks the template by expanding it for a sample region.
    pub fn parse(template: &str) -> Result<Self, EndpointError> {
        let template = Self(template.trim_end_matches('/').to_string());
        let url = Url::parse(&template.0.replace(REGION_PLACEHOLDER, "cn-north-4"));
        match url {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(template),
            Ok(_) => Err(EndpointError::ParseTemplate {
                template: template.0,
                reason: "needs an http or https scheme and a host".into(),
            }),
            Err(e) => Err(EndpointError::ParseTemplate {
                template: template.0,
                reason: e.to_string(),
            }),
        }
    }

    /// The template text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base URL for `region`, without a trailing slash.
    pub fn base_for(&self, region: &str) -> Result<String, EndpointError> {
        names::validate(NameKind::Region, region)?;
        Ok(self.0.replace(REGION_PLACEHOLDER, region))
    }
}

/// The three services' templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// SWR.
    pub swr: EndpointTemplate,
    /// HSS.
    pub hss: EndpointTemplate,
    /// IAM.
    pub iam: EndpointTemplate,
}

impl Default for Endpoints {
    fn default() -> Self {
        let parse = |t| EndpointTemplate::parse(t).expect("default templates are valid");
        Self {
            swr: parse(DEFAULT_SWR),
            hss: parse(DEFAULT_HSS),
            iam: parse(DEFAULT_IAM),
        }
    }
}

impl Endpoints {
    /// All three services behind one template (the emulator serves them all).
    pub fn single(template: &str) -> Result<Self, EndpointError> {
        let t = EndpointTemplate::parse(template)?;
        Ok(Self {
            swr: t.clone(),
            hss: t.clone(),
            iam: t,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_region_and_keeps_path_prefix() {
        let e = Endpoints::default();
        assert_eq!(
            e.swr.base_for("cn-north-4").unwrap(),
            "https://swr-api.cn-north-4.myhuaweicloud.com"
        );
        let local = EndpointTemplate::parse("http://127.0.0.1:8787/{region}/").unwrap();
        assert_eq!(
            local.base_for("cn-east-3").unwrap(),
            "http://127.0.0.1:8787/cn-east-3"
        );
    }

    #[test]
    fn rejects_bad_templates_and_regions() {
        assert!(EndpointTemplate::parse("not a url {region}").is_err());
        assert!(EndpointTemplate::parse("ftp://x/{region}").is_err());
        let t = EndpointTemplate::parse(DEFAULT_SWR).unwrap();
        assert!(t.base_for("evil.example.com/x").is_err());
    }
}
