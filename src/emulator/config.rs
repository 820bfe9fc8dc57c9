//! The emulator's start-up state and credentials, read from YAML (`examples/emulator.yaml`).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

use super::router::OPERATION_NAMES;
use crate::auth::SecretString;
use crate::swr::names::{self, NameError, NameKind};

/// The configuration `swr-sync-operator emulator` uses when `--config` is not given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../examples/emulator.yaml");

/// Why a configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not valid YAML or not the expected shape.
    #[error("emulator config is not valid: {0}")]
    Parse(#[from] serde_yaml::Error),
    /// A region, organization, repository or tag name breaks SWR's rules.
    #[error("emulator config: {0}")]
    Name(#[from] NameError),
    /// Something refers to a region or domain that is not configured, or a name repeats.
    #[error("emulator config: {0}")]
    Reference(String),
    /// A duration is not `<number><unit>` with unit ms, s, m, h or d.
    #[error("invalid duration {0:?}: expected e.g. 500ms, 30s, 15m, 24h or 7d")]
    Duration(String),
}

/// Everything the emulator starts with. Build it with [`EmulatorConfig::from_yaml`] or
/// [`EmulatorConfig::embedded_default`]; the fields are public so tests can adjust them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Region of requests whose path has no region prefix.
    pub default_region: String,
    /// How long IAM tokens live.
    #[serde(default = "default_token_lifetime", deserialize_with = "duration")]
    pub token_lifetime: Duration,
    /// Largest accepted distance between `X-Sdk-Date` and the emulator's clock.
    #[serde(default = "default_clock_skew", deserialize_with = "duration")]
    pub max_clock_skew: Duration,
    /// Serve `/_admin/` to non-loopback peers too.
    #[serde(default)]
    pub admin_allow_remote: bool,
    /// How SWR writes error bodies: the current object form or older regions' array.
    #[serde(default)]
    pub swr_error_format: SwrErrorFormat,
    /// How long sync jobs wait and run (default: copies end at once).
    #[serde(default)]
    pub sync_jobs: JobTiming,
    /// Consecutive failed signatures after which the gateway locks an access key (0: never).
    #[serde(default = "default_lockout_failures")]
    pub key_lockout_failures: u32,
    /// How long a locked access key stays locked.
    #[serde(default = "default_lockout", deserialize_with = "duration")]
    pub key_lockout: Duration,
    /// Tenants (Huawei Cloud accounts).
    #[serde(default)]
    pub domains: Vec<DomainConfig>,
    /// AK/SK pairs.
    #[serde(default)]
    pub access_keys: Vec<AccessKeyConfig>,
    /// IAM users that can log in with a password.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Regions and their organizations.
    pub regions: Vec<RegionConfig>,
}

/// A tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// Account name.
    pub name: String,
    /// Account id.
    pub id: String,
}

/// An access key pair of a domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessKeyConfig {
    /// AK id.
    pub access_key: String,
    /// SK.
    #[serde(deserialize_with = "secret")]
    pub secret_key: SecretString,
    /// When set, requests must carry it in `X-Security-Token` (temporary credentials).
    #[serde(default, deserialize_with = "optional_secret")]
    pub security_token: Option<SecretString>,
    /// Domain name the key belongs to.
    pub domain: String,
    /// Operations the key's user may call (operation names, e.g. `swr.list_sync_tasks`);
    /// absent: all. Others are refused with 403, as an IAM policy that lacks them would be.
    #[serde(default)]
    pub operations: Option<Vec<String>>,
}

/// An IAM user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Domain name.
    pub domain: String,
    /// User name.
    pub name: String,
    /// Password.
    #[serde(deserialize_with = "secret")]
    pub password: SecretString,
}

/// A region and what it holds at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegionConfig {
    /// Region id (`cn-north-4`); also the name of its IAM project.
    pub id: String,
    /// The project id of this region for every domain not listed in `projects`.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Project ids by domain name.
    #[serde(default)]
    pub projects: std::collections::BTreeMap<String, String>,
    /// Organizations.
    #[serde(default)]
    pub organizations: Vec<OrganizationConfig>,
}

/// An organization and its repositories.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationConfig {
    /// Organization name.
    pub name: String,
    /// Domain (account) name that owns it; absent: the first configured domain. Other
    /// domains' keys are refused with 403.
    #[serde(default)]
    pub domain: Option<String>,
    /// Repositories.
    #[serde(default)]
    pub repositories: Vec<RepositoryConfig>,
}

/// A repository and its tags.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// Repository name (`/` for nested names).
    pub name: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<TagConfig>,
}

/// A tag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagConfig {
    /// Tag name.
    pub name: String,
    /// Manifest digest; derived from the repository and tag names when absent, so the same
    /// image configured in two regions compares equal.
    #[serde(default)]
    pub digest: Option<String>,
}

fn default_token_lifetime() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// APIG locks an AK/SK pair after more than five consecutive failures, for five minutes
/// (devg-apisign `api-sign-0001`: "AK access failed to reach the limit,forbidden").
fn default_lockout_failures() -> u32 {
    5
}

fn default_lockout() -> Duration {
    Duration::from_secs(5 * 60)
}

fn default_clock_skew() -> Duration {
    Duration::from_secs(15 * 60)
}

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::new)
}

fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(SecretString::new))
}

/// Parses `500ms`, `30s`, `15m`, `24h`, `7d` with the operator's own duration parser.
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    crate::api::validate::parse_duration(text)
        .map_err(|_| ConfigError::Duration(text.trim().into()))
}

/// A stable 32-hex-digit id from `parts`, for ids the config leaves out.
pub(crate) fn derived_id(parts: &[&str]) -> String {
    hex::encode(&Sha256::digest(parts.join("\n").as_bytes())[..16])
}

/// The digest of a configured tag without one.
pub(crate) fn derived_digest(repository: &str, tag: &str) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(format!("{repository}:{tag}").as_bytes()))
    )
}

impl EmulatorConfig {
    /// The built-in demo configuration (`examples/emulator.yaml`).
    pub fn embedded_default() -> Self {
        Self::from_yaml(EMBEDDED_DEFAULT).expect("the embedded emulator config is valid")
    }

    /// Parses and checks a YAML configuration.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = serde_yaml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let missing = |what: &str, name: &str| {
            ConfigError::Reference(format!("{what} {name:?} is not configured"))
        };
        let domains: BTreeSet<&str> = self.domains.iter().map(|d| d.name.as_str()).collect();
        unique("domain", self.domains.iter().map(|d| d.name.as_str()))?;
        unique("region", self.regions.iter().map(|r| r.id.as_str()))?;
        unique(
            "access key",
            self.access_keys.iter().map(|k| k.access_key.as_str()),
        )?;
        let user_domains = self.users.iter().map(|u| u.domain.as_str());
        let key_domains = self.access_keys.iter().map(|k| k.domain.as_str());
        let project_domains = self
            .regions
            .iter()
            .flat_map(|r| r.projects.keys().map(String::as_str));
        let org_domains = self
            .regions
            .iter()
            .flat_map(|r| r.organizations.iter().filter_map(|o| o.domain.as_deref()));
        if let Some(d) = user_domains
            .chain(key_domains)
            .chain(project_domains)
            .chain(org_domains)
            .find(|d| !domains.contains(d))
        {
            return Err(missing("domain", d));
        }
        let operations = self
            .access_keys
            .iter()
            .flat_map(|k| k.operations.iter().flatten());
        if let Some(op) = operations
            .into_iter()
            .find(|op| !OPERATION_NAMES.contains(&op.as_str()))
        {
            return Err(missing("operation", op));
        }
        if self.region(&self.default_region).is_none() {
            return Err(missing("default region", &self.default_region));
        }
        for region in &self.regions {
            names::validate(NameKind::Region, &region.id)?;
            unique(
                "organization",
                region.organizations.iter().map(|o| o.name.as_str()),
            )?;
            for org in &region.organizations {
                names::validate(NameKind::Organization, &org.name)?;
                unique(
                    "repository",
                    org.repositories.iter().map(|r| r.name.as_str()),
                )?;
                for repo in &org.repositories {
                    names::validate(NameKind::Repository, &repo.name)?;
                    unique("tag", repo.tags.iter().map(|t| t.name.as_str()))?;
                    for tag in &repo.tags {
                        names::validate(NameKind::Tag, &tag.name)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A configured region.
    pub fn region(&self, id: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.id == id)
    }

    /// A configured domain by name.
    pub fn domain(&self, name: &str) -> Option<&DomainConfig> {
        self.domains.iter().find(|d| d.name == name)
    }

    /// The project id of `region` for `domain`, when the region is configured.
    pub fn project_id(&self, domain: &str, region: &str) -> Option<String> {
        Some(self.region(region)?.project_for(domain))
    }
}

impl RegionConfig {
    /// This region's project id for `domain`: configured for the domain, for the region, or
    /// derived from both names.
    pub fn project_for(&self, domain: &str) -> String {
        self.projects
            .get(domain)
            .or(self.project_id.as_ref())
            .cloned()
            .unwrap_or_else(|| derived_id(&["project", domain, &self.id]))
    }
}

fn unique<'a>(what: &str, mut names: impl Iterator<Item = &'a str>) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    match names.find(|n| !seen.insert(*n)) {
        Some(dup) => Err(ConfigError::Reference(format!(
            "{what} {dup:?} is listed twice"
        ))),
        None => Ok(()),
    }
}

/// How SWR writes error bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SwrErrorFormat {
    /// `{"errors":[{"errorCode","errorMessage","detail"}],"error_code","error_msg","details"}`,
    /// the current form (api-swr `ErrorCode.html`).
    #[default]
    Object,
    /// `[{"errorCode","errorMessage","detail"}]`, the form older regions answer
    /// (`swr_02_0024.html`).
    Array,
}

/// How long copies take (config `syncJobs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobTiming {
    /// From the request to `running`.
    #[serde(default, deserialize_with = "duration")]
    pub waiting: Duration,
    /// From `running` to the end.
    #[serde(default, deserialize_with = "duration")]
    pub running: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_has_the_demo_content() {
        let c = EmulatorConfig::embedded_default();
        assert_eq!(c.default_region, "cn-north-4");
        assert_eq!(c.max_clock_skew, Duration::from_secs(900));
        assert_eq!(
            c.project_id("example-domain", "cn-north-4").as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        let derived = c.project_id("example-domain", "cn-east-3").unwrap();
        assert_eq!(derived.len(), 32);
        assert_eq!(c.project_id("example-domain", "nowhere"), None);
    }

    #[test]
    fn rejects_broken_references_and_names() {
        let base = "defaultRegion: r1\nregions: [{id: r1}]\n";
        assert!(EmulatorConfig::from_yaml(base).is_ok());
        let table = [
            "defaultRegion: r2\nregions: [{id: r1}]\n",
            "defaultRegion: r1\nregions: [{id: r1}, {id: r1}]\n",
            "defaultRegion: r1\nregions: [{id: r1, organizations: [{name: Bad}]}]\n",
            "defaultRegion: r1\nregions: [{id: r1}]\nusers: [{domain: d, name: u, password: p}]\n",
            "defaultRegion: r1\nregions: [{id: r1}]\nsurprise: 1\n",
            "defaultRegion: r1\nmaxClockSkew: soon\nregions: [{id: r1}]\n",
        ];
        for yaml in table {
            assert!(EmulatorConfig::from_yaml(yaml).is_err(), "{yaml}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let c = EmulatorConfig::embedded_default();
        let printed = format!("{c:?}");
        assert!(!printed.contains("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"));
        assert!(!printed.contains("s3cret!"));
    }
}
