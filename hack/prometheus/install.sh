#!/usr/bin/env bash
# Installs Debian's `prometheus` package (the Prometheus server 2.42 and `promtool`) when
# they are not on PATH: the alert rules are checked and unit-tested with promtool, and
# evaluated by a real Prometheus scraping the operator (tests/shared_cluster/monitoring.rs). Idempotent: with
# both present it only checks them. Prints the directory of the two binaries.
set -euo pipefail

log() { echo "[prometheus-install] $*" >&2; }

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 && SUDO=(sudo -n)
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  log "apt-get install prometheus"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # Its service is not used: tests start their own Prometheus on loopback when they need one.
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends prometheus >&2
fi
promtool --version 2>&1 | head -1 >&2
dirname "$(command -v promtool)"
