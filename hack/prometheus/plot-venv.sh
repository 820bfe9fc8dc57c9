#!/usr/bin/env bash
# Installs matplotlib from PyPI in a virtualenv cached at a fixed path, for
# hack/prometheus/render-dashboard.py (the README's dashboard picture). Prints its python.
set -euo pipefail
MATPLOTLIB_VERSION=3.9.2
exec "$(dirname "$0")/../lib/venv.sh" \
  "${SWR_SYNC_PLOT_VENV:-$HOME/.cache/swr-sync-operator/plot-venv-$MATPLOTLIB_VERSION}" \
  matplotlib "matplotlib==$MATPLOTLIB_VERSION"
