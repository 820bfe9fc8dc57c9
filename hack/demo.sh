#!/usr/bin/env bash
# One-command demo on the embedded defaults. It builds the operator, starts a local
# kube-apiserver and the SWR/HSS/IAM emulator, installs deploy/install.yaml (CRD, namespace,
# ServiceAccount, least-privilege RBAC), creates a Secret and three rules (one valid, one
# conflicting, one invalid; a fourth with a bad name is refused by the API server), runs two
# operator replicas with the ServiceAccount's own token (leader election), waits for
# convergence, shows the rules, the alerts a real Prometheus raises for the conflicting and
# invalid ones, the tasks, a pushed tag replicating, the metrics, a leader
# hand-over, the deletion of a rule with its tasks, and what the operator cost in memory and
# CPU. Everything it starts is stopped on exit; nothing outside a temporary directory is kept.
#
# Usage: hack/demo.sh [--helm]   (--helm: install with the Helm chart, deploy/helm/, by the
# real Helm engine instead of kubectl apply -f deploy/install.yaml)
# SWR_SYNC_DEMO_DASHBOARD=docs/dashboard.png draws the Grafana dashboard's queries over the
# demo, from its Prometheus, into that file (matplotlib, in a cached virtualenv).
set -euo pipefail
cd "$(dirname "$0")/.."
install_with=kubectl
case "${1:-}" in
  --helm) install_with=helm ;;
  "") ;;
  *) echo "usage: hack/demo.sh [--helm]" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
work=$(mktemp -d /tmp/swr-sync-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  hack/kube-apiserver/stop.sh "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

say "Building"
# SWR_SYNC_DEMO_BIN runs another build of the operator (e.g. the static release binary).
bin=${SWR_SYNC_DEMO_BIN:-target/debug/swr-sync-operator}
[[ -n ${SWR_SYNC_DEMO_BIN:-} ]] || cargo build --quiet --locked

say "Starting a local kube-apiserver (built once, cached)"
hack/kube-apiserver/install.sh >/dev/null
export KUBECONFIG
KUBECONFIG=$(hack/kube-apiserver/start.sh "$work/cluster")
# shellcheck disable=SC1091
source "$work/cluster/cluster.env"

say "Starting the SWR/HSS/IAM emulator on 127.0.0.1:18787 (organizations from examples/emulator.yaml)"
"$bin" emulator --listen 127.0.0.1:18787 >"$work/emulator.log" 2>&1 &
pids+=($!)
emu=http://127.0.0.1:18787
for _ in $(seq 50); do curl -fsS "$emu/_admin/tasks" >/dev/null 2>&1 && break; sleep 0.1; done

if [[ $install_with == helm ]]; then
  say "Installing the operator with Helm (the real Helm engine, helm-python-sdk)"
  echo '$ helm install swr-sync-operator deploy/helm/swr-sync-operator \'
  echo '    --namespace swr-sync-system --create-namespace --set replicaCount=0'
  python=$(hack/helm/venv.sh)
  printf '{"op": "install", "chart": "%s", "release": "swr-sync-operator", "namespace": "swr-sync-system", "kubeconfig": "%s", "create_namespace": true, "values": {"replicaCount": 0}}' \
    "$PWD/deploy/helm/swr-sync-operator" "$KUBECONFIG" | "$python" hack/helm/helm.py | python3 -c '
import json, sys
answer = json.load(sys.stdin)
if "error" in answer:
    sys.exit("helm install failed: " + answer["error"]["message"])
r = answer["ok"]
print("NAME: %(name)s\nNAMESPACE: %(namespace)s\nSTATUS: %(status)s\nREVISION: %(revision)s" % r)
print("NOTES:" + r["notes"])'
  kubectl wait --for condition=established crd/imagesyncrules.swrsync.io --timeout=30s >/dev/null
  echo "(This API server has no nodes, so the Deployment's pods could never start: the release"
  echo " runs 0 replicas and the demo runs two as local processes with the ServiceAccount's"
  echo " token, so they have exactly the RBAC of the release.)"
else
  say "Installing the operator: kubectl apply -f deploy/install.yaml"
  run kubectl apply -f deploy/install.yaml
  kubectl wait --for condition=established crd/imagesyncrules.swrsync.io --timeout=30s >/dev/null
  echo "(This API server has no nodes, so the Deployment's pods could never start: it is scaled"
  echo " to 0 and the demo runs two replicas as local processes with the ServiceAccount's token,"
  echo " so they have exactly the RBAC of the install.)"
  kubectl -n swr-sync-system scale deployment swr-sync-operator --replicas=0 >/dev/null
fi
token=$(kubectl -n swr-sync-system create token swr-sync-operator --duration=2h)
sa_config="$work/operator.kubeconfig"
(
  export KUBECONFIG="$sa_config"
  kubectl config set-cluster demo --server="$KUBE_APISERVER_URL" \
    --certificate-authority="$KUBE_CA_FILE" --embed-certs >/dev/null
  kubectl config set-credentials swr-sync-operator --token="$token" >/dev/null
  kubectl config set-context demo --cluster=demo --user=swr-sync-operator >/dev/null
  kubectl config use-context demo >/dev/null
)

say "A team namespace with its SWR credentials"
kubectl create namespace platform >/dev/null
run kubectl -n platform create secret generic swr-credentials \
  --from-literal=accessKey=QTWAOYTTINDUT2QVKYUC \
  --from-literal=secretKey=MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc

say "Running two operator replicas (operator-a, operator-b)"
# --verify-grace 0s: the emulator records its copies at once, so tags need no grace period.
start_operator() {
  local name=$1 port=$2
  KUBECONFIG="$sa_config" POD_NAME=$name POD_NAMESPACE=swr-sync-system \
    "$bin" --log-format json run --metrics-address "127.0.0.1:$port" --verify-grace 0s \
    --swr-endpoint "$emu/{region}" --hss-endpoint "$emu/{region}" --iam-endpoint "$emu/{region}" \
    >"$work/$name.log" 2>&1 &
  pids+=($!)
  eval "pid_${name/-/_}=$!"
}
start_operator operator-a 18080
sleep 1
start_operator operator-b 18081
leads() { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | grep -q '^swr_sync_leader 1'; }
for _ in $(seq 150); do leads 18080 && break; sleep 0.2; done
run kubectl -n swr-sync-system get lease swr-sync-operator \
  -o custom-columns=LEASE:.metadata.name,HOLDER:.spec.holderIdentity,DURATION:.spec.leaseDurationSeconds

say "A real Prometheus (Debian's 2.42) scraping both replicas, with the shipped alert rules"
prom=""
if prom_bin=$(hack/prometheus/install.sh 2>"$work/prometheus-install.log"); then
  # The shipped rules wait 15-30 min (their `for`) before they fire; the demo's copy of them
  # waits 10 s, so they fire while you watch. Expressions and labels are the shipped ones.
  sed -E 's/^( *for:) .*/\1 10s/' deploy/monitoring/alerts.yaml >"$work/alerts.yaml"
  cat >"$work/prometheus.yml" <<EOF
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$work/alerts.yaml"]
scrape_configs:
  - job_name: swr-sync-operator
    static_configs: [{targets: ["127.0.0.1:18080", "127.0.0.1:18081"]}]
EOF
  "$prom_bin/prometheus" --config.file="$work/prometheus.yml" \
    --storage.tsdb.path="$work/prometheus" --web.listen-address=127.0.0.1:19090 \
    >"$work/prometheus.log" 2>&1 &
  pids+=($!)
  prom=http://127.0.0.1:19090
  prom_start=$(date +%s)
  for _ in $(seq 100); do curl -fsS "$prom/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
  echo "Prometheus on $prom evaluates deploy/monitoring/alerts.yaml (with for: 10s in this demo)"
else
  echo "(Prometheus could not be installed, see $work/prometheus-install.log: no alerts step)"
fi

say "Applying the rules"
run kubectl -n platform apply -f deploy/examples/imagesyncrule.yaml
# platform-web creates, and so owns, the task both rules want before nginx-east exists.
kubectl -n platform wait --for condition=Ready isr/platform-web --timeout=60s >/dev/null
run kubectl -n platform apply -f hack/demo/rules.yaml
echo
if ! run kubectl -n platform apply -f hack/demo/bad-name.yaml; then
  echo "(refused by the API server, as it should be)"
fi

say "Waiting for convergence"
kubectl -n platform wait --for condition=Ready isr/platform-web --timeout=60s
kubectl -n platform wait --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=Conflict \
  isr/nginx-east --timeout=60s
kubectl -n platform wait --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'=InvalidSpec \
  isr/loop --timeout=60s
run kubectl -n platform get imagesyncrules
echo
run kubectl -n platform get isr nginx-east loop \
  -o custom-columns='RULE:.metadata.name,MESSAGE:.status.conditions[?(@.type=="Ready")].message'
echo
run kubectl -n platform get events --sort-by=.metadata.creationTimestamp \
  -o custom-columns=TYPE:.type,REASON:.reason,RULE:.involvedObject.name,MESSAGE:.message

if [[ -n $prom ]]; then
  say "Alerts from the real Prometheus: the conflicting and the invalid rule (GET $prom/api/v1/alerts)"
  for _ in $(seq 60); do
    python3 hack/demo/alerts.py "$prom" wait SwrSyncRulesConflict SwrSyncRulesInvalid && break
    sleep 1
  done
  python3 hack/demo/alerts.py "$prom" show
  echo "(The summaries name the shipped rules' \`for\`; in this demo each waited 10 s.)"
fi

show_tasks() {
  curl -fsS "$emu/_admin/tasks" | python3 -c '
import json, sys
tasks = json.load(sys.stdin)
print(f"{len(tasks)} task(s)")
for t in tasks:
    print("  {region}/{namespace}/{repoName} -> {remoteRegionId}/{remoteNamespace} override={override}".format(**t))
'
}
say "Tasks in the emulator"
show_tasks

say "Pushing nginx:1.27 to cn-north-4/platform; it replicates to both targets"
curl -fsS -X POST "$emu/_admin/push" -H 'Content-Type: application/json' \
  -d '{"region":"cn-north-4","organization":"platform","repository":"nginx","tag":"1.27"}' >/dev/null
sleep 1
curl -fsS "$emu/_admin/state" | python3 -c '
import json, sys
regions = json.load(sys.stdin)["regions"]
for region in ("cn-east-3", "ap-southeast-1"):
    repo = regions[region]["organizations"]["platform-dr"]["repositories"].get("nginx", {})
    print(f"  {region}/platform-dr/nginx tags:", sorted(repo.get("tags", {})))
'

say "Metrics of the leader (http://127.0.0.1:18080/metrics, excerpt)"
curl -fsS http://127.0.0.1:18080/metrics |
  grep -E '^swr_sync_(leader|rules|reconciles_total|reconcile_failures_total|cloud_requests_total)' || true

# Peak resident memory and CPU seconds of a process, from /proc.
usage() {
  local pid=$1 hwm ticks
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  awk -v n="$2" -v kb="$hwm" -v t="$ticks" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%s: peak RSS %.1f MiB, CPU %.2f s\n", n, kb / 1024, t / hz }'
}

say "Killing the leader (SIGKILL): operator-b takes over when the Lease expires (15 s)"
usage "$pid_operator_a" operator-a
killed=$EPOCHREALTIME
{ kill -KILL "$pid_operator_a" && wait "$pid_operator_a"; } 2>/dev/null || true
until leads 18081; do sleep 0.1; done
awk -v a="$killed" -v b="$EPOCHREALTIME" 'BEGIN { printf "operator-b leads %.1f s after the kill\n", b - a }'

say "Deleting platform-web: its tasks go with it, but nginx -> cn-east-3, which nginx-east wants, is handed over to it"
run kubectl -n platform delete imagesyncrule platform-web --timeout=60s
kubectl -n platform wait --for condition=Ready isr/nginx-east --timeout=60s >/dev/null
show_tasks
run kubectl -n platform get imagesyncrules

say "Stopping operator-b (SIGTERM): it finishes in-flight work and releases the Lease"
usage "$pid_operator_b" operator-b
kill -TERM "$pid_operator_b"
wait "$pid_operator_b" || true
run kubectl -n swr-sync-system get lease swr-sync-operator \
  -o custom-columns=LEASE:.metadata.name,HOLDER:.spec.holderIdentity,TRANSITIONS:.spec.leaseTransitions
grep -h '"message":"\(became leader\|released the Lease\|operator stopped\)"' "$work"/operator-*.log |
  python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print(" ", e["timestamp"], e.get("identity", ""), e["message"])
'

if [[ -n ${SWR_SYNC_DEMO_DASHBOARD:-} && -n $prom ]]; then
  say "Drawing the dashboard's queries over the demo into $SWR_SYNC_DEMO_DASHBOARD"
  "$(hack/prometheus/plot-venv.sh)" hack/prometheus/render-dashboard.py \
    "$prom" "$prom_start" "$(date +%s)" "$SWR_SYNC_DEMO_DASHBOARD"
fi

say "Done; everything the demo started is being stopped and $work removed"
