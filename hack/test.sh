#!/usr/bin/env bash
# Every check CI runs, in one command: formatting, module cycles, lints, then all unit and
# integration tests (the integration tests start their own kube-apiserver and emulator).
set -euo pipefail
cd "$(dirname "$0")/.."

# A real API server for the integration tests: built once, then cached.
hack/kube-apiserver/install.sh >&2
# The official Python SDKs for the interop tests: installed once, then cached.
hack/bench/peer-venv.sh >/dev/null
# The real Helm engine (helm-python-sdk) for the chart's tests: installed once, then cached.
hack/helm/venv.sh >/dev/null
# Prometheus and promtool (Debian's package) for the alert tests.
hack/prometheus/install.sh >/dev/null

cargo fmt --all -- --check
# No import cycles between the crate's modules (prints them if there are).
graph=$(python3 hack/module-graph.py) || { echo "$graph"; exit 1; }
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --all-targets "$@"
