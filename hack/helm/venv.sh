#!/usr/bin/env bash
# Installs helm-python-sdk from PyPI in a virtualenv cached at a fixed path: it bundles the
# real Helm engine (the official Go SDK, v4.2.3, as a C library) with Python bindings. There
# is no `helm` binary in the registries these machines reach; hack/helm/helm.py drives this
# one for the chart's tests, the packaging script and the demo. Prints the virtualenv's python.
set -euo pipefail
HELM_PYTHON_SDK_VERSION=0.2.2   # bundles Helm v4.2.3
venv="${SWR_SYNC_HELM_VENV:-$HOME/.cache/swr-sync-operator/helm-venv-$HELM_PYTHON_SDK_VERSION}"
if ! "$venv/bin/python" -c 'import helm_python' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "helm-python-sdk==$HELM_PYTHON_SDK_VERSION" >&2
fi
echo "$venv/bin/python"
