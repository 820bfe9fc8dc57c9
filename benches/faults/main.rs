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

mod campaign;
mod overlap;
mod replicas;
mod schedule;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use schedule::{Shape, Sizes};
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
    /// Index of the first schedule to run: `--first 6 --schedules 1` runs schedule 6 of the
    /// campaign alone (the same faults as in the whole campaign), to replay a violation.
    #[arg(long, default_value_t = 0)]
    first: usize,
    /// Where to write the JSON report (also printed).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Which fleets: `disjoint` (every rule has tasks of its own), `overlap` (two tenants'
    /// rules want the same tasks), or `both` (alternately).
    #[arg(long, value_enum, default_value_t = Fleets::Both)]
    fleet: Fleets,
    /// Set by `cargo bench`; without it this is the short run of `cargo test`.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The fleets a campaign runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fleets {
    Disjoint,
    Overlap,
    Both,
}

impl Fleets {
    /// The fleet of schedule `index`, and whether it is that fleet's first (its tour).
    fn of(self, index: usize) -> (Shape, bool) {
        match self {
            Self::Disjoint => (Shape::Disjoint, index == 0),
            Self::Overlap => (Shape::Overlap, index == 0),
            Self::Both if index % 2 == 0 => (Shape::Disjoint, index == 0),
            Self::Both => (Shape::Overlap, index == 1),
        }
    }
}

#[tokio::main]
async fn main() {
    let mut args = Args::parse();
    if !args.bench {
        // The short run: the tour of each fleet.
        args.schedules = if args.fleet == Fleets::Both { 2 } else { 1 };
    }
    let mut outcomes = Vec::new();
    for index in args.first..args.first + args.schedules {
        let (shape, tour) = args.fleet.of(index);
        let sizes = match shape {
            Shape::Disjoint => Sizes {
                rules: campaign::FLEET.rules,
                tenants: 1,
                tasks: 0,
            },
            Shape::Overlap => overlap::SIZES,
        };
        let schedule = schedule::schedule(args.seed, index, args.events, sizes, shape, tour);
        eprintln!(
            "== schedule {index} {shape:?} (seed {}): {} faults",
            schedule.seed,
            schedule.steps.len()
        );
        let outcome = match schedule.shape {
            Shape::Disjoint => campaign::run(&schedule).await,
            Shape::Overlap => overlap::run(&schedule).await,
        };
        println!(
            "schedule {index:>3} {:<8} seed {:>20} faults {:>3} violations {} converged in {:.1} s",
            outcome.fleet,
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
            "fleet": o.fleet, "seed": o.seed, "faults": o.faults, "violations": o.violations,
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
