#!/usr/bin/env bash
# Stops the control plane that start.sh started in <state-dir>: each process named by a pid
# file gets TERM, then KILL if it is still there after a few seconds; the pid files are
# removed. Idempotent: a directory with nothing running (or no directory) is fine.
#
# Usage: stop.sh <state-dir>
set -euo pipefail

log() { echo "[kube-stop] $*" >&2; }

[[ $# -eq 1 ]] || { echo "usage: $0 <state-dir>" >&2; exit 2; }
STATE="$1"
[[ -d $STATE ]] || exit 0
GRACE="${KUBE_STOP_GRACE_SECONDS:-5}"

# Is $1 still the process start.sh launched (and not a reused pid)?
ours() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE '(^|/)(etcd|kube-apiserver|kube-controller-manager)( |$)'
}

pids=()
# Dependents first: the controller manager, then the API server, then etcd.
for name in kube-controller-manager kube-apiserver etcd; do
  pidfile="$STATE/$name.pid"
  [[ -e $pidfile ]] || continue
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
done

deadline=$((SECONDS + GRACE))
for pid in "${pids[@]}"; do
  while ours "$pid"; do
    if [[ $SECONDS -ge $deadline ]]; then
      log "pid $pid did not stop after ${GRACE}s: KILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.1
      continue
    fi
    sleep 0.1
  done
done

rm -f "$STATE"/*.pid
