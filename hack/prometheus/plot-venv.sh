#!/usr/bin/env bash
# Installs matplotlib from PyPI in a virtualenv cached at a fixed path, for
# hack/prometheus/render-dashboard.py (the README's dashboard picture). Prints its python.
set -euo pipefail
MATPLOTLIB_VERSION=3.9.2
venv="${SWR_SYNC_PLOT_VENV:-$HOME/.cache/swr-sync-operator/plot-venv-$MATPLOTLIB_VERSION}"
if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "matplotlib==$MATPLOTLIB_VERSION" >&2
fi
echo "$venv/bin/python"
