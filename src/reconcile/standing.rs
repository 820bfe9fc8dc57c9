//! Whether a rule has shown it can act on SWR, read from the rule as the cache holds it. Only
//! a rule that can act may hold a task it does not own yet against another rule, or take one
//! over: one tenant's broken rule never keeps another tenant's replication from happening.

use kube::ResourceExt;

use crate::api::status::{condition_type, reason, RuleName};
use crate::api::validate::{problems, resync_interval};
use crate::api::ImageSyncRule;

/// What a rule's last pass showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Its last pass, for its current spec, reached SWR with working credentials.
    Able,
    /// Being deleted, suspended, or its last pass stopped at the spec or the credentials.
    Unable,
    /// Not reconciled yet for its current spec.
    Unjudged,
}

/// Ready reasons of a pass that never got to act on SWR.
const UNABLE_REASONS: [&str; 5] = [
    reason::INVALID_SPEC,
    reason::CREDENTIALS_MISSING,
    reason::AUTH_FAILED,
    reason::SUSPENDED,
    reason::DELETING,
];

/// The standing of `rule`.
pub fn standing(rule: &ImageSyncRule) -> Standing {
    let spec = &rule.spec;
    let spec_ok = problems(spec).is_empty() && resync_interval(&spec.resync_interval).is_ok();
    if rule.metadata.deletion_timestamp.is_some() || spec.suspend || !spec_ok {
        return Standing::Unable;
    }
    let Some(status) = rule.status.as_ref() else {
        return Standing::Unjudged;
    };
    if status.observed_generation != rule.metadata.generation {
        return Standing::Unjudged;
    }
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == condition_type::READY);
    match ready {
        None => Standing::Unjudged,
        Some(c) if UNABLE_REASONS.contains(&c.reason.as_str()) => Standing::Unable,
        Some(_) => Standing::Able,
    }
}

/// The rule's identity in statuses and in the ownership ledger.
pub fn name_of(rule: &ImageSyncRule) -> RuleName {
    RuleName {
        namespace: rule.namespace().unwrap_or_default(),
        name: rule.name_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::status::{Condition, ImageSyncRuleStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn rule(ready_reason: Option<&str>, observed: i64) -> ImageSyncRule {
        let mut r: ImageSyncRule = serde_json::from_value(serde_json::json!({
            "apiVersion": "swrsync.io/v1alpha1",
            "kind": "ImageSyncRule",
            "metadata": {"name": "a", "namespace": "ns", "generation": 2},
            "spec": {
                "source": {"region": "cn-north-4", "organization": "platform", "repositories": ["nginx"]},
                "targets": [{"region": "cn-east-3", "organization": "dr"}],
                "credentialsSecretRef": {"name": "creds"},
            },
        }))
        .unwrap();
        r.status = ready_reason.map(|reason| ImageSyncRuleStatus {
            observed_generation: Some(observed),
            conditions: vec![Condition {
                type_: "Ready".into(),
                status: "False".into(),
                reason: reason.into(),
                message: String::new(),
                last_transition_time: None,
                observed_generation: Some(observed),
            }],
            ..ImageSyncRuleStatus::default()
        });
        r
    }

    #[test]
    fn standing_follows_the_last_pass_for_the_current_spec() {
        for (reason, observed, expected) in [
            (None, 2, Standing::Unjudged),
            (Some("InSync"), 2, Standing::Able),
            (Some("Conflict"), 2, Standing::Able),
            (Some("ApiError"), 2, Standing::Able),
            (Some("CredentialsMissing"), 2, Standing::Unable),
            (Some("AuthFailed"), 2, Standing::Unable),
            (Some("InvalidSpec"), 2, Standing::Unable),
            (Some("InSync"), 1, Standing::Unjudged),
        ] {
            assert_eq!(standing(&rule(reason, observed)), expected, "{reason:?}");
        }
        let mut deleting = rule(Some("InSync"), 2);
        deleting.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        assert_eq!(standing(&deleting), Standing::Unable);
        let mut suspended = rule(Some("InSync"), 2);
        suspended.spec.suspend = true;
        assert_eq!(standing(&suspended), Standing::Unable);
        let mut invalid = rule(Some("InSync"), 2);
        invalid.spec.targets.push(invalid.spec.targets[0].clone());
        assert_eq!(standing(&invalid), Standing::Unable);
    }
}
