//! SWR naming rules (organizations, repositories, regions, tags) and the `/` → `$` path form.

use std::sync::LazyLock;

use percent_encoding::percent_decode_str;
use regex::Regex;

/// Organization (SWR "namespace") names, as documented for the `{namespace}` path parameter.
pub const ORGANIZATION_PATTERN: &str = r"^[a-z][a-z0-9]*(?:(?:[._-]|__)[a-z0-9]+)*$";
/// Longest organization name.
pub const ORGANIZATION_MAX_LEN: usize = 64;
/// Repository names; `/` separates nested names.
pub const REPOSITORY_PATTERN: &str = r"^[a-z0-9]+(?:(?:[._/-]|__)[a-z0-9]+)*$";
/// Longest repository name.
pub const REPOSITORY_MAX_LEN: usize = 128;
/// Region ids (`cn-north-4`). They end up in host names, so nothing else is let through.
pub const REGION_PATTERN: &str = r"^[a-z0-9]+(?:-[a-z0-9]+)*$";
/// Longest region id.
pub const REGION_MAX_LEN: usize = 32;
/// Image tags, as the OCI distribution spec defines them.
pub const TAG_PATTERN: &str = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";

/// What kind of name failed; also the metrics/condition label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// An SWR organization.
    Organization,
    /// An SWR repository.
    Repository,
    /// A region id.
    Region,
    /// An image tag.
    Tag,
}

impl NameKind {
    fn rule(self) -> (&'static Regex, usize, &'static str) {
        static ORG: LazyLock<Regex> = LazyLock::new(|| Regex::new(ORGANIZATION_PATTERN).unwrap());
        static REPO: LazyLock<Regex> = LazyLock::new(|| Regex::new(REPOSITORY_PATTERN).unwrap());
        static REGION: LazyLock<Regex> = LazyLock::new(|| Regex::new(REGION_PATTERN).unwrap());
        static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(TAG_PATTERN).unwrap());
        match self {
            Self::Organization => (&ORG, ORGANIZATION_MAX_LEN, "organization"),
            Self::Repository => (&REPO, REPOSITORY_MAX_LEN, "repository"),
            Self::Region => (&REGION, REGION_MAX_LEN, "region"),
            Self::Tag => (&TAG, 128, "tag"),
        }
    }

    /// Lower-case name of the kind, for messages.
    pub fn as_str(self) -> &'static str {
        self.rule().2
    }
}

/// A name that breaks SWR's rules. Names are not secrets, so the value is kept for messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {} name {name:?}: {reason}", kind.as_str())]
pub struct NameError {
    /// Which kind of name.
    pub kind: NameKind,
    /// The offending name.
    pub name: String,
    /// Why, in words.
    pub reason: String,
}

/// Checks `name` against the rules for `kind`.
pub fn validate(kind: NameKind, name: &str) -> Result<(), NameError> {
    let (pattern, max, _) = kind.rule();
    let reason = if name.is_empty() {
        "must not be empty".to_string()
    } else if name.len() > max {
        format!("longer than {max} characters")
    } else if !pattern.is_match(name) {
        format!("must match {}", pattern.as_str())
    } else {
        return Ok(());
    };
    Err(NameError {
        kind,
        name: name.to_string(),
        reason,
    })
}

/// The repository as a URL path segment: `/` becomes `$`, then percent-encoded (`%24`), as
/// the SDK sends it.
pub fn repository_path_segment(repository: &str) -> String {
    repository.replace('/', "%24")
}

/// The inverse of [`repository_path_segment`]: accepts `%24`, a raw `$` (both are seen on
/// the wire) and returns the repository name with `/`.
pub fn repository_from_path_segment(segment: &str) -> String {
    percent_decode_str(segment)
        .decode_utf8_lossy()
        .replace('$', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organization_rules() {
        let table = [
            ("platform", true),
            ("team_a.b-c", true),
            ("a__b", true),
            ("a1", true),
            ("1abc", false),
            ("Abc", false),
            ("a___b", false),
            ("a..b", false),
            ("a-", false),
            ("a/b", false),
            ("", false),
        ];
        for (name, ok) in table {
            assert_eq!(
                validate(NameKind::Organization, name).is_ok(),
                ok,
                "organization {name:?}"
            );
        }
        assert!(validate(NameKind::Organization, &"a".repeat(64)).is_ok());
        let err = validate(NameKind::Organization, &"a".repeat(65)).unwrap_err();
        assert!(err.to_string().contains("longer than 64"), "{err}");
    }

    #[test]
    fn repository_rules() {
        let table = [
            ("nginx", true),
            ("team/api", true),
            ("apps/api-server", true),
            ("1nginx", true),
            ("a/b/c", true),
            ("/nginx", false),
            ("nginx/", false),
            ("a//b", false),
            ("a/-b", false),
            ("Nginx", false),
            ("a$b", false),
        ];
        for (name, ok) in table {
            assert_eq!(
                validate(NameKind::Repository, name).is_ok(),
                ok,
                "repository {name:?}"
            );
        }
        assert!(validate(NameKind::Repository, &"a".repeat(129)).is_err());
    }

    #[test]
    fn region_and_tag_rules() {
        assert!(validate(NameKind::Region, "cn-north-4").is_ok());
        assert!(validate(NameKind::Region, "evil.com/x").is_err());
        assert!(validate(NameKind::Tag, "1.25").is_ok());
        assert!(validate(NameKind::Tag, "latest").is_ok());
        assert!(validate(NameKind::Tag, ".hidden").is_err());
    }

    #[test]
    fn nested_repository_path_form() {
        assert_eq!(
            repository_path_segment("apps/api-server"),
            "apps%24api-server"
        );
        assert_eq!(
            repository_from_path_segment("apps%24api-server"),
            "apps/api-server"
        );
        assert_eq!(
            repository_from_path_segment("apps$api-server"),
            "apps/api-server"
        );
        assert_eq!(repository_from_path_segment("nginx"), "nginx");
    }
}
