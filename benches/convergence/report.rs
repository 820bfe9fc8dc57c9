//! The benchmark's output: a table per scenario, the same figures as JSON, and the smoke
//! run's checks.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::run::{Measured, Results, Scenario};
use super::Args;
use testkit::process::binary;

const SCENARIOS: [Scenario; 3] = [Scenario::Cold, Scenario::Drift, Scenario::NoOp];

/// The per-task polling model (Crossplane/Terraform style: one managed resource per task,
/// each read once per poll, plus the writes needed): its calls in a scenario.
fn polling_calls(results: &Results, scenario: Scenario) -> u64 {
    results.managed_tasks[&scenario] + results.needed_writes[&scenario]
}

/// CPU model, cores and memory of this machine, from /proc.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_default();
    format!(
        "{model}, {cores} cores, {:.0} GiB",
        mem_kib as f64 / 1048576.0
    )
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

fn ops(m: &Measured) -> String {
    m.calls
        .iter()
        .map(|(op, n)| format!("{}={n}", op.trim_start_matches("swr.")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The operator binary measured.
fn operator_binary(args: &Args) -> String {
    let binary = args.operator_bin.as_deref().unwrap_or(binary());
    binary.display().to_string()
}

/// The operator's concurrency as run: the flag, or its default.
fn concurrency(args: &Args) -> String {
    args.concurrency
        .map_or("(default)".into(), |c| c.to_string())
}

/// The human-readable report of one latency.
pub fn table(args: &Args, latency_ms: u64, results: &Results) -> String {
    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "\nConvergence benchmark on {}", machine()).unwrap();
    writeln!(
        w,
        "N={} rules, R={} repositories, T={} targets; emulator latency {latency_ms} ms, qps cap {}; operator --concurrency {}",
        args.rules, args.repos, args.targets, args.qps, concurrency(args)
    )
    .unwrap();
    writeln!(w, "operator binary {}", operator_binary(args)).unwrap();
    for scenario in SCENARIOS {
        let l = results.lower_bound[&scenario];
        let limit = l as f64 / args.qps;
        writeln!(
            w,
            "\n[{}] lower bound L = {l} calls; qps-cap limit L/qps = {limit:.1} s",
            scenario.name()
        )
        .unwrap();
        writeln!(
            w,
            "  {:<22} {:>9} {:>9} {:>8} {:>6} {:>9}  calls by operation",
            "actor", "wall s", "calls", "calls/L", "429s", "t/limit"
        )
        .unwrap();
        let mut row = |name: &str, m: &Measured| {
            let calls = m.total_calls();
            writeln!(
                w,
                "  {name:<22} {:>9.2} {calls:>9} {:>8.2} {:>6} {:>9.2}  {}",
                m.seconds,
                calls as f64 / l as f64,
                m.throttled,
                if limit > 0.0 { m.seconds / limit } else { 0.0 },
                ops(m)
            )
            .unwrap();
        };
        let operator = &results.operator[&scenario];
        row("operator", operator);
        if let Some(script) = results.script.get(&scenario) {
            row("script (Python SDK)", script);
        }
        if let Some(bound) = results.verification_bound {
            let listed = operator
                .calls
                .get("swr.list_tags")
                .copied()
                .unwrap_or_default();
            let jobs = operator
                .calls
                .get("swr.list_sync_jobs")
                .copied()
                .unwrap_or_default();
            let why = if scenario == Scenario::Cold {
                format!("bound {bound}: every rule verified once")
            } else {
                "within the interval: only rules whose spec changed verify".to_string()
            };
            writeln!(
                w,
                "  verification: {listed} tag listings ({why}), {jobs} job listings"
            )
            .unwrap();
        }
        let polling = polling_calls(results, scenario);
        writeln!(
            w,
            "  {:<22} {:>9.2} {polling:>9} {:>8.2} {:>6} {:>9}  (computed: one read per task + the writes needed)",
            "per-task polling",
            polling as f64 / args.qps,
            polling as f64 / l as f64,
            "-",
            "-"
        )
        .unwrap();
        let writes: Vec<String> = operator
            .writes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        writeln!(
            w,
            "  operator: k8s writes {}; reconciles/rule {:.2}; peak RSS {}; CPU {:.2} s",
            if writes.is_empty() {
                "none".into()
            } else {
                writes.join(" ")
            },
            operator.reconciles_per_rule.unwrap_or_default(),
            mib(operator.peak_rss),
            operator.cpu_seconds.unwrap_or_default()
        )
        .unwrap();
        let mut ratios = vec![format!(
            "polling model / operator calls {:.2}x",
            polling as f64 / operator.total_calls().max(1) as f64
        )];
        if let Some(script) = results.script.get(&scenario) {
            ratios.push(format!(
                "script / operator time {:.2}x",
                script.seconds / operator.seconds
            ));
            ratios.push(format!(
                "script / operator calls {:.2}x",
                script.total_calls() as f64 / operator.total_calls().max(1) as f64
            ));
        }
        writeln!(w, "  ratios: {}", ratios.join("; ")).unwrap();
    }
    out
}

fn measured_json(m: &Measured) -> Value {
    json!({
        "seconds": m.seconds,
        "calls": m.total_calls(),
        "callsByOperation": m.calls,
        "throttled": m.throttled,
        "kubernetesWrites": m.writes,
        "reconcilesPerRule": m.reconciles_per_rule,
        "peakRssBytes": m.peak_rss,
        "cpuSeconds": m.cpu_seconds,
    })
}

/// One line per latency and scenario: the operator's time against the limit, calls against
/// L, 429s, Kubernetes writes and peak RSS.
pub fn sweep_table(args: &Args, sweep: &[(u64, Results)]) -> String {
    let mut out = String::new();
    let w = &mut out;
    writeln!(
        w,
        "\nLatency sweep: N={} R={} T={}, qps cap {}, operator --concurrency {}",
        args.rules,
        args.repos,
        args.targets,
        args.qps,
        concurrency(args)
    )
    .unwrap();
    writeln!(
        w,
        "  {:>7} {:<6} {:>6} {:>8} {:>8} {:>8} {:>6} {:>9} {:>10}",
        "latency", "pass", "L", "wall s", "t/limit", "calls/L", "429s", "k8s wr", "peak RSS"
    )
    .unwrap();
    for (latency, results) in sweep {
        for scenario in SCENARIOS {
            let l = results.lower_bound[&scenario];
            let m = &results.operator[&scenario];
            let limit = l as f64 / args.qps;
            // Leases renew with time, not with work.
            let writes = (m.writes.iter())
                .filter(|(kind, _)| *kind != "leases")
                .fold(0.0, |sum, (_, n)| sum + n);
            writeln!(
                w,
                "  {:>5}ms {:<6} {l:>6} {:>8.2} {:>8.2} {:>8.2} {:>6} {writes:>9} {:>10}",
                latency,
                scenario.name(),
                m.seconds,
                m.seconds / limit,
                m.total_calls() as f64 / l as f64,
                m.throttled,
                mib(m.peak_rss)
            )
            .unwrap();
        }
    }
    out
}

/// The machine-readable report: one run per latency.
pub fn json(args: &Args, sweep: &[(u64, Results)]) -> Value {
    let runs: Vec<Value> = sweep
        .iter()
        .map(|(latency, results)| run_json(args, *latency, results))
        .collect();
    json!({
        "machine": machine(),
        "rules": args.rules, "repositories": args.repos, "targets": args.targets,
        "qpsCap": args.qps, "concurrency": args.concurrency,
        "operatorBinary": operator_binary(args), "runs": runs,
    })
}

fn run_json(args: &Args, latency_ms: u64, results: &Results) -> Value {
    let scenarios: Vec<Value> = SCENARIOS
        .iter()
        .map(|&s| {
            let l = results.lower_bound[&s];
            let polling = polling_calls(results, s);
            json!({
                "scenario": s.name(),
                "lowerBound": l,
                "qpsLimitSeconds": l as f64 / args.qps,
                "operator": measured_json(&results.operator[&s]),
                "script": results.script.get(&s).map(measured_json),
                "pollingModel": {"calls": polling, "secondsAtQpsCap": polling as f64 / args.qps},
            })
        })
        .collect();
    json!({"latencyMs": latency_ms, "scenarios": scenarios})
}

/// What the smoke run must show beyond convergence (checked while measuring): a no-op pass
/// writes nothing to rules, statuses or Events and changes no task; a cold rule costs at
/// most its finalizer, two status writes and two Events; the script ran.
pub fn check_smoke(results: &Results, rules: usize) {
    let noop = &results.operator[&Scenario::NoOp];
    for kind in ["imagesyncrules", "imagesyncrules/status", "events"] {
        assert_eq!(
            noop.writes.get(kind),
            None,
            "the no-op pass wrote {kind}: {:?}",
            noop.writes
        );
    }
    for op in ["swr.create_sync_task", "swr.delete_sync_task"] {
        assert_eq!(
            noop.calls.get(op),
            None,
            "the no-op pass called {op}: {:?}",
            noop.calls
        );
    }
    let cold = &results.operator[&Scenario::Cold];
    let rules = rules as f64;
    let written = |kind: &str| cold.writes.get(kind).copied().unwrap_or_default();
    assert!(
        written("imagesyncrules/status") <= 2.0 * rules && written("events") <= 2.0 * rules,
        "a cold rule wrote more than two statuses or two Events: {:?}",
        cold.writes
    );
    assert_eq!(
        results.script.len(),
        3,
        "the script peer ran every scenario"
    );
}
