//! Endpoint templates: `https://swr-api.{region}.myhuaweicloud.com`, or a local emulator's
//! `http://127.0.0.1:8787/{region}`. A path in the template is kept and signed. Regions whose
//! hosts are elsewhere (the SDKs' region lists) and per-region overrides (private or
//! dedicated clouds) take precedence over the template.

use std::collections::BTreeMap;

use url::Url;

use super::request::Service;
use crate::swr::names::{self, NameError, NameKind};

/// Where the region goes in a template.
pub const REGION_PLACEHOLDER: &str = "{region}";
/// Default SWR endpoint.
pub const DEFAULT_SWR: &str = "https://swr-api.{region}.myhuaweicloud.com";
/// Default HSS endpoint.
pub const DEFAULT_HSS: &str = "https://hss.{region}.myhuaweicloud.com";
/// Default IAM endpoint.
pub const DEFAULT_IAM: &str = "https://iam.{region}.myhuaweicloud.com";

/// The public cloud's domain, which the default templates use.
const PUBLIC_DOMAIN: &str = ".myhuaweicloud.com";

/// Regions whose hosts are not under [`PUBLIC_DOMAIN`], with their domain, as the official
/// SDKs list them (Python `huaweicloudsdkswr/v2/region/swr_region.py`, Go
/// `services/{swr,hss,iam}/*/region/region.go`: `swr-api.eu-west-101.myhuaweicloud.eu`,
/// `hss.eu-west-101.myhuaweicloud.eu`, `iam.eu-west-101.myhuaweicloud.eu`).
const REGION_DOMAINS: &[(&str, &str)] = &[("eu-west-101", ".myhuaweicloud.eu")];

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
    /// An override is not `service:region=url`.
    #[error("endpoint override {0:?} is not service:region=url (service swr, hss or iam)")]
    ParseOverride(String),
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

    /// The base URL for `region`, without a trailing slash. A template on the public
    /// cloud's domain goes to the region's own domain where the SDKs list one.
    pub fn base_for(&self, region: &str) -> Result<String, EndpointError> {
        names::validate(NameKind::Region, region)?;
        let base = self.0.replace(REGION_PLACEHOLDER, region);
        let elsewhere = REGION_DOMAINS.iter().find(|(r, _)| *r == region);
        Ok(match elsewhere {
            Some((_, domain)) if self.0.contains(PUBLIC_DOMAIN) => {
                base.replacen(PUBLIC_DOMAIN, domain, 1)
            }
            _ => base,
        })
    }
}

/// The three services' templates, and the regions whose endpoints are set one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// SWR.
    pub swr: EndpointTemplate,
    /// HSS.
    pub hss: EndpointTemplate,
    /// IAM.
    pub iam: EndpointTemplate,
    /// Base URLs by service label and region, before the templates.
    pub overrides: BTreeMap<(&'static str, String), EndpointTemplate>,
}

impl Default for Endpoints {
    fn default() -> Self {
        let parse = |t| EndpointTemplate::parse(t).expect("default templates are valid");
        Self {
            swr: parse(DEFAULT_SWR),
            hss: parse(DEFAULT_HSS),
            iam: parse(DEFAULT_IAM),
            overrides: BTreeMap::new(),
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
            overrides: BTreeMap::new(),
        })
    }

    /// Adds an override `service:region=url` (`swr:eu-west-0=https://swr.example.internal`).
    pub fn add_override(&mut self, spec: &str) -> Result<(), EndpointError> {
        let bad = || EndpointError::ParseOverride(spec.to_string());
        let (key, url) = spec.split_once('=').ok_or_else(bad)?;
        let (service, region) = key.trim().split_once(':').ok_or_else(bad)?;
        let service = [Service::Swr, Service::Hss, Service::Iam]
            .into_iter()
            .find(|s| s.label() == service)
            .ok_or_else(bad)?;
        names::validate(NameKind::Region, region)?;
        let url = EndpointTemplate::parse(url.trim())?;
        self.overrides
            .insert((service.label(), region.to_string()), url);
        Ok(())
    }

    /// The base URL of `service` in `region`: its override, else the template's.
    pub fn base_for(&self, service: Service, region: &str) -> Result<String, EndpointError> {
        if let Some(url) = self.overrides.get(&(service.label(), region.to_string())) {
            names::validate(NameKind::Region, region)?;
            return Ok(url.as_str().replace(REGION_PLACEHOLDER, region));
        }
        let template = match service {
            Service::Swr => &self.swr,
            Service::Hss => &self.hss,
            Service::Iam => &self.iam,
        };
        template.base_for(region)
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
    fn regions_the_sdks_host_elsewhere_and_overrides() {
        let mut e = Endpoints::default();
        assert_eq!(
            e.base_for(Service::Swr, "eu-west-101").unwrap(),
            "https://swr-api.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(
            e.base_for(Service::Iam, "eu-west-101").unwrap(),
            "https://iam.eu-west-101.myhuaweicloud.eu"
        );
        e.add_override("hss:cn-east-3=https://hss.private.example/")
            .unwrap();
        assert_eq!(
            e.base_for(Service::Hss, "cn-east-3").unwrap(),
            "https://hss.private.example"
        );
        assert_eq!(
            e.base_for(Service::Swr, "cn-east-3").unwrap(),
            "https://swr-api.cn-east-3.myhuaweicloud.com",
            "another service of the region keeps its template"
        );
        let local = Endpoints::single("http://127.0.0.1:1/{region}").unwrap();
        assert_eq!(
            local.base_for(Service::Swr, "eu-west-101").unwrap(),
            "http://127.0.0.1:1/eu-west-101",
            "only the public cloud's domain is swapped"
        );
        for bad in [
            "swr=https://x",
            "ecs:cn-north-4=https://x",
            "swr:Bad=https://x",
            "swr:cn-north-4=ftp://x",
        ] {
            assert!(e.add_override(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_templates_and_regions() {
        assert!(EndpointTemplate::parse("not a url {region}").is_err());
        assert!(EndpointTemplate::parse("ftp://x/{region}").is_err());
        let t = EndpointTemplate::parse(DEFAULT_SWR).unwrap();
        assert!(t.base_for("evil.example.com/x").is_err());
    }
}
