#!/usr/bin/env bash
# One-command demo on the embedded defaults: a local kube-apiserver, the SWR emulator and
# the operator, an ImageSyncRule applied, its tasks shown, a pushed tag replicating, and the
# rule deleted with its tasks. Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
work=$(mktemp -d /tmp/swr-sync-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  hack/kube-apiserver/stop.sh "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "Building"
cargo build --quiet --locked
bin=target/debug/swr-sync-operator

say "Starting a local kube-apiserver (built once, cached)"
hack/kube-apiserver/install.sh >/dev/null
export KUBECONFIG
KUBECONFIG=$(hack/kube-apiserver/start.sh "$work/cluster")

say "Starting the SWR/HSS/IAM emulator on 127.0.0.1:18787"
"$bin" emulator --listen 127.0.0.1:18787 >"$work/emulator.log" 2>&1 &
pids+=($!)
emu=http://127.0.0.1:18787
for _ in $(seq 50); do curl -fsS "$emu/_admin/tasks" >/dev/null 2>&1 && break; sleep 0.1; done

say "Installing the CRD and the demo credentials"
kubectl apply -f crds/imagesyncrule.yaml >/dev/null
kubectl wait --for condition=established crd/imagesyncrules.swrsync.io --timeout=30s >/dev/null
kubectl create secret generic swr-credentials \
  --from-literal=accessKey=QTWAOYTTINDUT2QVKYUC \
  --from-literal=secretKey=MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc >/dev/null

say "Running the operator against the emulator"
"$bin" run --swr-endpoint "$emu/{region}" --hss-endpoint "$emu/{region}" \
  --iam-endpoint "$emu/{region}" >"$work/operator.log" 2>&1 &
pids+=($!)

say "Applying deploy/examples/imagesyncrule.yaml"
kubectl apply -f deploy/examples/imagesyncrule.yaml
kubectl wait --for condition=Ready imagesyncrule/platform-web --timeout=60s >/dev/null
kubectl get imagesyncrules

say "Tasks in the emulator"
curl -fsS "$emu/_admin/tasks" | python3 -m json.tool

say "Pushing nginx:1.27 to cn-north-4/platform; it replicates to both targets"
curl -fsS -X POST "$emu/_admin/push" -H 'Content-Type: application/json' \
  -d '{"region":"cn-north-4","organization":"platform","repository":"nginx","tag":"1.27"}' >/dev/null
sleep 1
curl -fsS "$emu/_admin/state" | python3 -c '
import json, sys
regions = json.load(sys.stdin)["regions"]
for region in ("cn-east-3", "ap-southeast-1"):
    repo = regions[region]["organizations"]["platform-dr"]["repositories"].get("nginx", {})
    tags = sorted(repo.get("tags", {}))
    print(region + "/platform-dr/nginx tags:", tags)
'

say "Deleting the rule: its tasks go with it (deletionPolicy Delete)"
kubectl delete imagesyncrule platform-web --timeout=60s
echo "tasks left in the emulator: $(curl -fsS "$emu/_admin/tasks" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

say "Done; everything started by the demo is being stopped"
