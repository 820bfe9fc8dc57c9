//! Table tests of verification's pure parts.

use super::*;

const DR: (&str, &str) = ("cn-east-3", "platform-dr");

fn dr() -> Target {
    Target::new(DR.0, DR.1).unwrap()
}

fn pair(repository: &str, override_existing: bool, finding: PairFinding) -> Pair {
    Pair {
        source: SourceRepo::new("cn-north-4", "platform", repository).unwrap(),
        target: dr(),
        override_existing,
        finding,
    }
}

fn now() -> DateTime<Utc> {
    parse_time("2026-12-03T12:00:00Z").unwrap()
}

fn tags(list: &[(&str, &str)]) -> Tags {
    list.iter()
        .map(|(tag, digest)| {
            let image = Image {
                digest: digest.to_string(),
                updated: Some(now() - Duration::hours(1)),
            };
            (tag.to_string(), image)
        })
        .collect()
}

fn job(tag: &str, status: &str, created: &str) -> SyncJob {
    SyncJob {
        id: 1,
        namespace: "platform".into(),
        repo_name: "nginx".into(),
        remote_region_id: DR.0.into(),
        remote_namespace: DR.1.into(),
        override_existing: false,
        tag: tag.into(),
        status: status.into(),
        sync_operator_id: String::new(),
        sync_operator_name: String::new(),
        domain_id: String::new(),
        domain_name: String::new(),
        created_at: created.into(),
        updated_at: created.into(),
    }
}

fn held(tags: Option<&Tags>) -> Held<'_> {
    Held {
        tags,
        listed_at: now() - Duration::minutes(10),
    }
}

fn gap(tag: &str, digest: &str, job: Option<&str>) -> Gap {
    Gap {
        tag: tag.into(),
        digest: digest.into(),
        job: job.map(String::from),
    }
}

#[test]
fn compare_tells_missing_diverged_in_flight_and_in_sync_apart() {
    let source = tags(&[
        ("1.0", "a"),
        ("1.1", "b"),
        ("1.2", "c"),
        ("1.3", "d"),
        ("1.4", "e"),
    ]);
    let target = tags(&[("1.0", "a"), ("1.1", "x"), ("old", "z")]);
    let jobs = [
        job("1.2", "timeout", "2026-12-03T10:00:00Z"),
        job("1.3", "running", "2026-12-03T11:59:00Z"),
        // An older job of 1.2 does not count: the newest one does.
        job("1.2", "success", "2026-12-03T09:00:00Z"),
    ];
    let found = compare(
        &source,
        held(Some(&target)),
        &jobs,
        &dr(),
        (now(), Duration::minutes(2)),
    );
    assert_eq!(
        found.missing,
        [gap("1.2", "c", Some("timeout")), gap("1.4", "e", None)]
    );
    assert_eq!(found.diverged, [gap("1.1", "b", None)]);
    assert_eq!(found.in_flight, 1, "1.3 is being copied");
}

#[test]
fn a_copy_that_ended_after_the_target_was_listed_is_not_a_gap() {
    let source = tags(&[("1.0", "a"), ("1.1", "b")]);
    let target = tags(&[]);
    let jobs = [
        // Copied after the (shared, older) target listing: not judged on that listing.
        job("1.0", "success", "2026-12-03T11:55:00Z"),
        // Copied long before it: the tag has gone since (deleted in the target).
        job("1.1", "success", "2026-12-03T11:00:00Z"),
    ];
    let found = compare(
        &source,
        held(Some(&target)),
        &jobs,
        &dr(),
        (now(), Duration::minutes(2)),
    );
    assert_eq!(found.missing, [gap("1.1", "b", None)]);
    assert_eq!(found.in_flight, 1);
}

#[test]
fn a_missing_target_repository_misses_everything_and_recent_pushes_wait() {
    let mut source = tags(&[("1.0", "a"), ("new", "n")]);
    source.get_mut("new").unwrap().updated = Some(now() - Duration::minutes(1));
    let found = compare(
        &source,
        held(None),
        &[],
        &dr(),
        (now(), Duration::minutes(2)),
    );
    assert_eq!(found.missing, [gap("1.0", "a", None)]);
    assert_eq!(found.in_flight, 1);
    let other_target = [job("1.0", "failed", "2026-12-03T10:00:00Z")];
    let elsewhere_target = Target::new("ap-southeast-1", "dr").unwrap();
    let elsewhere = compare(
        &source,
        held(None),
        &other_target,
        &elsewhere_target,
        (now(), Duration::minutes(2)),
    );
    assert_eq!(
        elsewhere.missing[0].job, None,
        "another target's job says nothing"
    );
}

#[test]
fn summaries_say_what_to_do() {
    let behind = PairFinding {
        missing: vec![gap("1.2", "c", Some("timeout"))],
        ..Default::default()
    };
    let diverged = PairFinding {
        diverged: vec![gap("1.1", "b", None)],
        in_flight: 2,
        ..Default::default()
    };
    let cases = [
        (
            vec![pair("nginx", false, PairFinding::default())],
            false,
            ReplicationState::InSync,
            None,
        ),
        (
            vec![pair("nginx", false, behind.clone())],
            false,
            ReplicationState::Behind,
            Some("verify.repair"),
        ),
        (
            vec![pair("nginx", false, behind.clone())],
            true,
            ReplicationState::Behind,
            None,
        ),
        (
            vec![
                pair("nginx", false, behind),
                pair("api", false, diverged.clone()),
            ],
            true,
            ReplicationState::Diverged,
            Some("override: true"),
        ),
        (
            vec![pair("api", true, diverged)],
            true,
            ReplicationState::Diverged,
            None,
        ),
    ];
    for (pairs, repair, state, advice) in cases {
        let refs: Vec<&Pair> = pairs.iter().collect();
        let target = summarize(&dr(), &refs, repair);
        assert_eq!(target.state, state, "{pairs:?}");
        match advice {
            Some(text) => assert!(
                target.message.as_deref().unwrap_or_default().contains(text),
                "{target:?}"
            ),
            None => assert_eq!(target.message, None, "{target:?}"),
        }
    }
    let both = pair(
        "nginx",
        false,
        PairFinding {
            missing: vec![gap("1.2", "c", Some("timeout"))],
            diverged: vec![gap("1.1", "b", None)],
            in_flight: 3,
        },
    );
    let both = summarize(&dr(), &[&both], false);
    assert_eq!(
        (
            both.missing,
            both.diverged,
            both.failed_jobs,
            both.in_flight
        ),
        (1, 1, 1, 3)
    );
    assert_eq!(
        both.examples,
        ["nginx:1.2 missing (sync job timeout)", "nginx:1.1 diverged"]
    );
}

fn repair(tag: &str, digest: &str, state: RepairState) -> TagRepair {
    TagRepair {
        repository: "nginx".into(),
        tag: tag.into(),
        digest: digest.into(),
        target_region: DR.0.into(),
        target_organization: DR.1.into(),
        state,
        requested_at: "2026-12-03T11:00:00Z".into(),
        outcome: None,
    }
}

#[test]
fn repair_copies_gaps_once_and_diverged_tags_only_with_override() {
    let finding = PairFinding {
        missing: vec![
            gap("1.0", "a", None),
            gap("1.1", "b", None),
            gap("1.2", "c", Some("failed")),
        ],
        diverged: vec![gap("2.0", "d", None)],
        in_flight: 0,
    };
    let earlier = [
        repair("1.0", "a", RepairState::Requested),
        // Failed for this digest: not again; the source moved 1.2 since: again.
        repair("1.1", "b", RepairState::Failed),
        repair("1.2", "old", RepairState::Failed),
    ];
    let without_override = repairs(&[pair("nginx", false, finding.clone())], &earlier, 100);
    assert_eq!(without_override.len(), 1);
    assert_eq!(
        without_override[0].tags,
        [("1.2".to_string(), "c".to_string())]
    );
    let with_override = repairs(&[pair("nginx", true, finding.clone())], &earlier, 100);
    assert_eq!(
        with_override[0].tags,
        [
            ("1.2".to_string(), "c".to_string()),
            ("2.0".to_string(), "d".to_string())
        ]
    );
    assert!(with_override[0].override_existing);
    assert_eq!(with_override[0].target, dr());
    let twice = [
        pair("nginx", true, finding.clone()),
        pair("api", true, finding),
    ];
    let total: usize = repairs(&twice, &[], 5).iter().map(|r| r.tags.len()).sum();
    assert_eq!(total, 5, "the cap holds across pairs");
}

#[test]
fn a_repair_follows_its_newest_job_after_the_request() {
    let deadline = Duration::hours(1);
    let requested = repair("1.0", "a", RepairState::Requested);
    let cases = [
        (
            vec![],
            now() - Duration::minutes(1),
            Some(RepairState::Requested),
            None,
        ),
        (
            vec![job("1.0", "running", "2026-12-03T11:00:00Z")],
            now(),
            Some(RepairState::Requested),
            None,
        ),
        (
            vec![job("1.0", "success", "2026-12-03T11:00:01Z")],
            now(),
            None,
            None,
        ),
        (
            vec![job("1.0", "existed", "2026-12-03T11:00:01Z")],
            now(),
            None,
            None,
        ),
        (
            vec![job("1.0", "cancel", "2026-12-03T11:00:01Z")],
            now(),
            Some(RepairState::Failed),
            Some("cancel"),
        ),
        // A failure from before the request is an earlier copy's.
        (
            vec![job("1.0", "failed", "2026-12-03T10:00:00Z")],
            now() - Duration::minutes(59),
            Some(RepairState::Requested),
            None,
        ),
        (
            vec![],
            now() + Duration::hours(1),
            Some(RepairState::Failed),
            Some("no finished sync job"),
        ),
    ];
    for (jobs, at, state, outcome) in cases {
        let moved = follow(&requested, &jobs, at, deadline);
        assert_eq!(moved.as_ref().map(|r| r.state), state, "{jobs:?}");
        assert_eq!(moved.and_then(|r| r.outcome).as_deref(), outcome);
    }
}

#[test]
fn times_parse_with_and_without_a_zone() {
    assert_eq!(parse_time("2026-12-03T12:00:00Z"), Some(now()));
    assert_eq!(parse_time("2026-12-03T12:00:00.000000"), Some(now()));
    assert_eq!(parse_time("yesterday"), None);
}
