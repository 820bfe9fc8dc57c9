#!/usr/bin/env bash
# Convergence benchmark (README "Benchmark"): a real kube-apiserver, the emulator with
# latency and a qps cap, the operator as a separate release-built process, and the Python
# SDK script peer. Arguments go to the benchmark, e.g.
#   hack/bench.sh --rules 10000 --json target/bench-10k.json
set -euo pipefail
cd "$(dirname "$0")/.."
hack/kube-apiserver/install.sh >&2
exec cargo bench --locked --bench convergence -- "$@"
