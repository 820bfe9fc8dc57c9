//! Fault campaign: seeded random schedules of SWR failures (5xx and 429 bursts, latency
//! spikes, hung requests), operator SIGKILLs (also between a create and its status write),
//! graceful leader hand-overs, API server restarts, Secret rotations and rule edits and
//! deletions, against two operator replicas on a real kube-apiserver. After each schedule,
//! with the faults off, SWR must hold exactly the tasks the rules want plus the foreign
//! ones, every rule Ready.
//!
//! `hack/faults.sh [--schedules N --events E --seed S]` runs it (`cargo bench --bench
//! faults -- ...`). Run by `cargo test` (no `--bench` argument) it is the short version:
//! one schedule with every kind of fault once; it fails on any violation.

#[path = "../../tests/support/mod.rs"]
mod support;

mod campaign;
mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use serde_json::json;

/// Campaign settings.
#[derive(Debug, Parser)]
#[command(about = "Fault campaign of swr-sync-operator")]
struct Args {
    /// Schedules to run (the first is a tour of every fault kind).
    #[arg(long, default_value_t = 10)]
    schedules: usize,
    /// Faults per schedule after the first.
    #[arg(long, default_value_t = 10)]
    events: usize,
    /// Campaign seed; schedule i uses a seed derived from it.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where to write the JSON report (also printed).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Set by `cargo bench`; without it this is the short run of `cargo test`.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    if !args.bench {
        args.schedules = 1;
    }
    let mut outcomes = Vec::new();
    for index in 0..args.schedules {
        let schedule = schedule::schedule(args.seed, index, args.events, campaign::FLEET.rules);
        eprintln!(
            "== schedule {index} (seed {}): {} faults",
            schedule.seed,
            schedule.steps.len()
        );
        let outcome = campaign::run(&schedule).await;
        println!(
            "schedule {index:>3} seed {:>20} faults {:>3} violations {} converged in {:.1} s",
            outcome.seed,
            outcome.faults.len(),
            outcome.violations.len(),
            outcome.converge_seconds
        );
        for v in &outcome.violations {
            println!("    VIOLATION: {v}");
        }
        outcomes.push(outcome);
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for kind in outcomes.iter().flat_map(|o| &o.faults) {
        *by_kind.entry(kind).or_default() += 1;
    }
    let mut times: Vec<f64> = outcomes.iter().map(|o| o.converge_seconds).collect();
    times.sort_by(f64::total_cmp);
    let violations: usize = outcomes.iter().map(|o| o.violations.len()).sum();
    let faults: usize = by_kind.values().sum();
    println!(
        "\nschedules {}, faults injected {faults}, violations {violations}",
        outcomes.len()
    );
    println!(
        "time to converge after the last fault: median {:.1} s, max {:.1} s",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    for (kind, n) in &by_kind {
        println!("  {kind:<36} {n}");
    }
    let report = json!({
        "seed": args.seed,
        "schedules": outcomes.iter().map(|o| json!({
            "seed": o.seed, "faults": o.faults, "violations": o.violations,
            "convergeSeconds": o.converge_seconds,
        })).collect::<Vec<_>>(),
        "faultsByKind": by_kind,
        "faultsInjected": faults,
        "violations": violations,
        "convergeSecondsMedian": times[times.len() / 2],
        "convergeSecondsMax": times[times.len() - 1],
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, &text).expect("writing the JSON report");
    }
    assert_eq!(violations, 0, "the campaign found violations");
}
