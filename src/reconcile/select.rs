//! Which repositories a rule covers: its explicit list, plus the organization's
//! repositories its selector's name patterns match (listed, all pages, at each pass).

use std::collections::BTreeSet;

use super::report::Problem;
use super::task::TaskKey;
use crate::api::status::reason;
use crate::api::ImageSyncRuleSpec;
use crate::swr::SwrClient;

/// Whether `name` matches `pattern`: `*` is any run of characters (`/` included), `?` is
/// one character, anything else itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and how much of the name it has swallowed so far.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether the spec covers `repository` (of its source organization).
pub fn selects(spec: &ImageSyncRuleSpec, repository: &str) -> bool {
    spec.source.repositories.iter().any(|r| r == repository)
        || spec.source.repository_selector.as_ref().is_some_and(|s| {
            s.include.iter().any(|p| glob_match(p, repository))
                && !s.exclude.iter().any(|p| glob_match(p, repository))
        })
}

/// Whether the spec wants task `key`, judged from the spec alone (for claims: another
/// rule's selector is matched against the key, without listing its organization).
pub fn wants(spec: &ImageSyncRuleSpec, key: &TaskKey) -> bool {
    let source = key.source();
    source.region() == spec.source.region
        && source.organization() == spec.source.organization
        && selects(spec, source.repository())
        && spec
            .targets
            .iter()
            .any(|t| key.target().is(&t.region, &t.organization))
}

/// The repositories a rule covers now. A selector costs one paged listing. A repository the
/// rule owns tasks of (`owned`) that the selector still matches stays covered even when the
/// listing lacks it: a listing is no proof that a repository is gone (an inconsistent page),
/// the observe step's 404 for its tasks is.
pub async fn repositories(
    spec: &ImageSyncRuleSpec,
    swr: &SwrClient,
    owned: &BTreeSet<String>,
) -> Result<BTreeSet<String>, Problem> {
    let mut out: BTreeSet<String> = spec.source.repositories.iter().cloned().collect();
    if spec.source.repository_selector.is_some() {
        let (region, organization) = (&spec.source.region, &spec.source.organization);
        let listed = swr
            .list_repositories(region, organization)
            .await
            .map_err(|e| {
                if e.api().is_service_not_found() {
                    Problem::stalled(
                        reason::SOURCE_NOT_FOUND,
                        format!("SWR has no organization {organization} in {region}"),
                    )
                } else {
                    Problem::from_api(e.api(), e.to_string())
                }
            })?;
        out.extend(
            listed
                .into_iter()
                .map(|r| r.name)
                .filter(|name| selects(spec, name)),
        );
        out.extend(owned.iter().filter(|name| selects(spec, name)).cloned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (pattern, name, expected) in [
            ("nginx", "nginx", true),
            ("nginx", "nginx2", false),
            ("*", "team/api", true),
            ("team/*", "team/api", true),
            ("team/*", "team/x/y", true),
            ("team/*", "teams/api", false),
            ("*-base", "python-base", true),
            ("*-base", "python-base-old", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*b*", "xxaybzz", true),
            ("*a*b*", "xxbyazz", false),
            ("", "", true),
            ("**", "anything/at/all", true),
        ] {
            assert_eq!(glob_match(pattern, name), expected, "{pattern} vs {name}");
        }
    }

    fn spec(selector: serde_json::Value) -> ImageSyncRuleSpec {
        serde_json::from_value(serde_json::json!({
            "source": {"region": "cn-north-4", "organization": "platform",
                       "repositories": ["legacy"], "repositorySelector": selector},
            "targets": [{"region": "cn-east-3", "organization": "dr"}],
            "credentialsSecretRef": {"name": "s"},
        }))
        .unwrap()
    }

    #[test]
    fn the_list_and_the_selector_add_up() {
        let spec =
            spec(serde_json::json!({"include": ["team/*", "nginx"], "exclude": ["team/old*"]}));
        for (name, expected) in [
            ("legacy", true),
            ("nginx", true),
            ("team/api", true),
            ("team/old-api", false),
            ("other", false),
        ] {
            assert_eq!(selects(&spec, name), expected, "{name}");
        }
        let key = TaskKey::sample;
        assert!(wants(&spec, &key("team/api", "cn-east-3")));
        assert!(!wants(&spec, &key("team/api", "ap-southeast-1")));
        assert!(!wants(&spec, &key("team/old-api", "cn-east-3")));
    }
}
