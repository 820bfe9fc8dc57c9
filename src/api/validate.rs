//! Checks of a spec beyond what the CRD schema enforces (old API servers drop some schema
//! rules; uniqueness and "target is not the source" cannot be expressed there at all).

use std::collections::BTreeSet;
use std::time::Duration;

use super::spec::{ImageSyncRuleSpec, MAX_PATTERNS, MAX_REPOSITORIES, MAX_TARGETS};
use crate::swr::names::{self, NameError, NameKind};

/// Shortest `resyncInterval` accepted: anything shorter would hammer SWR for no gain.
pub const MIN_RESYNC_INTERVAL: Duration = Duration::from_secs(10);

/// One problem with a spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A region, organization or repository name breaks SWR's rules.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Neither `source.repositories` nor `source.repositorySelector` names a repository.
    #[error("source.repositories or source.repositorySelector must name at least one repository")]
    NoRepositories,
    /// A list is longer than its limit.
    #[error("{field} lists {count} items; at most {max} are allowed")]
    TooMany {
        /// The field.
        field: &'static str,
        /// Items given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// `targets` is empty.
    #[error("targets must list at least one target")]
    NoTargets,
    /// The same repository is listed twice.
    #[error("repository {0:?} is listed more than once")]
    DuplicateRepository(String),
    /// Two targets share region and organization.
    #[error("target {region}/{organization} is listed more than once")]
    DuplicateTarget {
        /// Region.
        region: String,
        /// Organization.
        organization: String,
    },
    /// A target is the source itself.
    #[error("target {region}/{organization} is the source itself")]
    TargetIsSource {
        /// Region.
        region: String,
        /// Organization.
        organization: String,
    },
    /// `resyncInterval` is not a duration, or too short.
    #[error("resyncInterval {value:?}: {reason}")]
    ResyncInterval {
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// `verify.interval` is not a duration, or too short.
    #[error("verify.interval {value:?}: {reason}")]
    VerifyInterval {
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
}

/// Every problem of `spec`, in field order; empty when it is valid.
pub fn problems(spec: &ImageSyncRuleSpec) -> Vec<SpecError> {
    let mut out = Vec::new();
    let mut name = |kind, value: &str| {
        if let Err(e) = names::validate(kind, value) {
            out.push(SpecError::Name(e));
        }
    };
    name(NameKind::Region, &spec.source.region);
    name(NameKind::Organization, &spec.source.organization);
    for repo in &spec.source.repositories {
        name(NameKind::Repository, repo);
    }
    for target in &spec.targets {
        name(NameKind::Region, &target.region);
        name(NameKind::Organization, &target.organization);
    }
    let selector = spec.source.repository_selector.as_ref();
    if spec.source.repositories.is_empty() && selector.is_none_or(|s| s.include.is_empty()) {
        out.push(SpecError::NoRepositories);
    }
    if spec.targets.is_empty() {
        out.push(SpecError::NoTargets);
    }
    let patterns = selector.map_or(0, |s| s.include.len().max(s.exclude.len()));
    for (field, count, max) in [
        (
            "source.repositories",
            spec.source.repositories.len(),
            MAX_REPOSITORIES,
        ),
        ("targets", spec.targets.len(), MAX_TARGETS),
        ("source.repositorySelector patterns", patterns, MAX_PATTERNS),
    ] {
        if count > max {
            out.push(SpecError::TooMany { field, count, max });
        }
    }
    let mut seen = BTreeSet::new();
    for repo in &spec.source.repositories {
        if !seen.insert(repo) {
            out.push(SpecError::DuplicateRepository(repo.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    for t in &spec.targets {
        let (region, organization) = (t.region.clone(), t.organization.clone());
        if t.region == spec.source.region && t.organization == spec.source.organization {
            out.push(SpecError::TargetIsSource {
                region,
                organization,
            });
        } else if !seen.insert((&t.region, &t.organization)) {
            out.push(SpecError::DuplicateTarget {
                region,
                organization,
            });
        }
    }
    if let Err(reason) = resync_interval(&spec.resync_interval) {
        out.push(SpecError::ResyncInterval {
            value: spec.resync_interval.clone(),
            reason,
        });
    }
    if let Some(verify) = &spec.verify {
        if let Err(reason) = verify_interval(&verify.interval) {
            out.push(SpecError::VerifyInterval {
                value: verify.interval.clone(),
                reason,
            });
        }
    }
    out
}

/// Shortest `verify.interval`: each verification lists every tag of every replicated
/// repository in the source and each target.
pub const MIN_VERIFY_INTERVAL: Duration = Duration::from_secs(60);

/// Parses `verify.interval`, at least [`MIN_VERIFY_INTERVAL`].
pub fn verify_interval(value: &str) -> Result<Duration, String> {
    at_least(value, MIN_VERIFY_INTERVAL)
}

/// Parses a duration that must be at least `min`.
fn at_least(value: &str, min: Duration) -> Result<Duration, String> {
    let interval = parse_duration(value)?;
    if interval < min {
        return Err(format!("must be at least {}s", min.as_secs()));
    }
    Ok(interval)
}

/// Parses `resyncInterval` (`90s`, `10m`, `1h30m`, `500ms`), at least [`MIN_RESYNC_INTERVAL`].
pub fn resync_interval(value: &str) -> Result<Duration, String> {
    at_least(value, MIN_RESYNC_INTERVAL)
}

/// Parses a Go-style duration made of integer parts with `ms`, `s`, `m`, `h` or `d` units.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("{value:?} is not a duration like 90s, 10m or 1h30m");
    let mut total = Duration::ZERO;
    let mut rest = value.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let amount: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let (unit, millis) = [
            ("ms", 1),
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ]
        .into_iter()
        .find(|(unit, _)| rest.starts_with(unit))
        .ok_or_else(bad)?;
        rest = &rest[unit.len()..];
        total += Duration::from_millis(amount.checked_mul(millis).ok_or_else(bad)?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::spec::{Source, Target};

    fn spec(repos: &[&str], targets: &[(&str, &str)]) -> ImageSyncRuleSpec {
        serde_json::from_value(serde_json::json!({
            "source": {"region": "cn-north-4", "organization": "platform", "repositories": repos},
            "targets": targets.iter().map(|(r, o)| serde_json::json!({"region": r, "organization": o})).collect::<Vec<_>>(),
            "credentialsSecretRef": {"name": "creds"},
        }))
        .unwrap()
    }

    #[test]
    fn defaults_apply_and_a_good_spec_passes() {
        let s = spec(&["nginx", "team/api"], &[("cn-east-3", "platform-dr")]);
        assert!(s.prune && !s.suspend && s.resync_interval == "10m");
        assert!(s.targets[0].sync_auto && !s.targets[0].override_existing);
        assert_eq!(problems(&s), vec![]);
    }

    #[test]
    fn table_of_invalid_specs() {
        let dup_target = spec(&["nginx"], &[("cn-east-3", "dr"), ("cn-east-3", "dr")]);
        let self_target = spec(&["nginx"], &[("cn-north-4", "platform")]);
        let dup_repo = spec(&["nginx", "nginx"], &[("cn-east-3", "dr")]);
        let bad_repo = spec(&["Nginx"], &[("cn-east-3", "dr")]);
        let mut bad_org = spec(&["nginx"], &[("cn-east-3", "dr")]);
        bad_org.targets.push(Target {
            organization: "a..b".into(),
            ..bad_org.targets[0].clone()
        });
        let mut fast = spec(&["nginx"], &[("cn-east-3", "dr")]);
        fast.resync_interval = "1s".into();
        let mut empty = spec(&[], &[]);
        empty.source = Source {
            repositories: vec![],
            ..empty.source
        };
        let names: Vec<String> = (0..=MAX_REPOSITORIES).map(|i| format!("r{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let too_many = spec(&names, &[("cn-east-3", "dr")]);
        let table: Vec<(ImageSyncRuleSpec, &str)> = vec![
            (too_many, "source.repositories lists 501 items; at most 500 are allowed"),
            (dup_target, "target cn-east-3/dr is listed more than once"),
            (
                self_target,
                "target cn-north-4/platform is the source itself",
            ),
            (dup_repo, "repository \"nginx\" is listed more than once"),
            (bad_repo, "invalid repository name \"Nginx\""),
            (bad_org, "invalid organization name \"a..b\""),
            (fast, "resyncInterval \"1s\": must be at least 10s"),
            (
                empty,
                "source.repositories or source.repositorySelector must name at least one repository",
            ),
        ];
        for (s, expected) in table {
            let found = problems(&s);
            assert!(
                found.iter().any(|p| p.to_string().starts_with(expected)),
                "expected {expected:?} in {found:?}"
            );
        }
    }

    #[test]
    fn durations() {
        let table = [
            ("10m", Some(600_000)),
            ("1h30m", Some(5_400_000)),
            ("90s", Some(90_000)),
            ("1500ms", Some(1500)),
            ("", None),
            ("10", None),
            ("m", None),
            ("2d", Some(172_800_000)),
            ("15 minutes", None),
            ("1.5h", None),
            ("-5m", None),
        ];
        for (text, millis) in table {
            assert_eq!(
                parse_duration(text).ok().map(|d| d.as_millis() as u64),
                millis,
                "{text:?}"
            );
        }
    }
}
