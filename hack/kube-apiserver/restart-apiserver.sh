#!/usr/bin/env bash
# Restarts the kube-apiserver of a control plane start.sh started in <state-dir>, with the
# same command line (ports, certificates, etcd data kept): what clients see when the API
# server of a real cluster is upgraded or crashes. Used by the fault campaign.
#
# Usage: restart-apiserver.sh <state-dir>
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 <state-dir>" >&2; exit 2; }
STATE="$(cd "$1" && pwd)"
pidfile="$STATE/kube-apiserver.pid"
pid=$(cat "$pidfile")
mapfile -d '' argv <"/proc/$pid/cmdline"
[[ ${argv[0]} == */kube-apiserver ]] || { echo "pid $pid is not a kube-apiserver" >&2; exit 1; }
kill -TERM "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
setsid "${argv[@]}" </dev/null >>"$STATE/logs/kube-apiserver.log" 2>&1 &
echo $! >"$pidfile"
# Ready again: the kubeconfig's server answers /readyz (any TLS client works for that).
server=$(grep -m1 'server:' "$STATE/kubeconfig" | awk '{print $2}')
for _ in $(seq 1 300); do
  [[ $(curl -ksS --max-time 1 "$server/readyz" 2>/dev/null) == ok ]] && exit 0
  sleep 0.1
done
echo "kube-apiserver not ready 30s after restart" >&2
exit 1
