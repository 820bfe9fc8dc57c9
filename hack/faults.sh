#!/usr/bin/env bash
# Fault campaign (README "Fault campaign"): seeded schedules of cloud, process, API server
# and user faults against two operator replicas, each followed by a convergence check.
# Arguments go to the campaign, e.g.
#   hack/faults.sh --schedules 20 --events 12 --seed 7 --json target/faults.json
set -euo pipefail
cd "$(dirname "$0")/.."
hack/kube-apiserver/install.sh >&2
exec cargo bench --locked --bench faults -- "$@"
