//! Convergence benchmark: N ImageSyncRules over R repositories × T targets on a real
//! kube-apiserver, the emulator with per-call latency and a qps cap, the operator as a
//! separate process; scenarios cold, drift and no-op; the same work done by the official
//! Python SDK in a sequential script, and the per-task polling model computed beside them.
//!
//! `hack/bench.sh [--rules N --repos R --targets T ...]` runs it (`cargo bench --bench
//! convergence -- ...`). Run by `cargo test` (no `--bench` argument) it is a small smoke
//! run that fails when the operator does not converge to exactly the wanted tasks or when
//! a no-op pass writes anything.

mod peer;
mod report;
mod run;

use std::path::PathBuf;

use clap::Parser;

/// Benchmark settings.
#[derive(Debug, Clone, Parser)]
#[command(about = "Convergence benchmark of swr-sync-operator against its peers")]
pub struct Args {
    /// Rules (N).
    #[arg(long, default_value_t = 1000)]
    pub rules: usize,
    /// Source repositories (R); rule i replicates repository i % R.
    #[arg(long, default_value_t = 500)]
    pub repos: usize,
    /// Targets per rule (T).
    #[arg(long, default_value_t = 2)]
    pub targets: usize,
    /// Emulator latency per SWR call, in milliseconds; a comma-separated list runs the
    /// scenarios once per latency (a sweep), each on a fresh namespace and emulator.
    #[arg(long, value_delimiter = ',', default_value = "20")]
    pub latency_ms: Vec<u64>,
    /// Emulator qps cap (more calls in a second are answered 429). The operator's own
    /// `--swr-qps` is set to it, as a user sets it to the account's quota.
    #[arg(long, default_value_t = 100.0)]
    pub qps: f64,
    /// The operator's `--concurrency` (default: the operator's own default).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// The operator binary to measure (default: this build's), e.g. the image's musl build
    /// from `cargo build --release --target x86_64-unknown-linux-musl`.
    #[arg(long)]
    pub operator_bin: Option<PathBuf>,
    /// Skip the Python SDK script peer. (In a sweep it runs at the first latency only: it
    /// makes its calls one after another, so its time is latency x calls.)
    #[arg(long)]
    pub no_script: bool,
    /// Where to write the JSON report (also printed).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Print, while the operator converges, its SWR calls, reconciles and Ready rules so far
    /// (to stderr, every 50 ms): where a pass spends its time.
    #[arg(long)]
    pub timeline: bool,
    /// Rules verify replication (`verify: {interval: 1h}`, targets already holding the
    /// source's tags): the cold scenario then includes one verification of every rule, and
    /// its lower bound one tag listing per source and per target repository. The script
    /// peer, which only manages tasks, does not run.
    #[arg(long)]
    pub verify: bool,
    /// Set by `cargo bench`; without it this is the smoke run of `cargo test`.
    #[arg(long, hide = true)]
    pub bench: bool,
}

impl Args {
    /// The small run `cargo test` makes.
    fn smoke() -> Self {
        Self {
            rules: 24,
            repos: 8,
            targets: 2,
            latency_ms: vec![5],
            qps: 200.0,
            concurrency: None,
            operator_bin: None,
            no_script: false,
            timeline: false,
            verify: false,
            json: None,
            bench: false,
        }
    }
}

#[tokio::main]
async fn main() {
    let parsed = Args::parse();
    let args = if parsed.bench { parsed } else { Args::smoke() };
    let mut sweep = Vec::new();
    for (i, &latency) in args.latency_ms.iter().enumerate() {
        let script = !args.no_script && !args.verify && i == 0;
        let results = run::all(&args, latency, script).await;
        print!("{}", report::table(&args, latency, &results));
        if !args.bench {
            report::check_smoke(&results, args.rules);
        }
        sweep.push((latency, results));
    }
    print!("{}", report::sweep_table(&args, &sweep));
    let json = serde_json::to_string_pretty(&report::json(&args, &sweep)).unwrap();
    println!("{json}");
    if let Some(path) = &args.json {
        std::fs::write(path, &json).expect("writing the JSON report");
    }
    if !args.bench {
        println!("smoke run passed");
    }
}
