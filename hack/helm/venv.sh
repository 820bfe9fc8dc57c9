#!/usr/bin/env bash
# Installs helm-python-sdk from PyPI in a virtualenv cached at a fixed path: it bundles the
# real Helm engine (the official Go SDK, v4.2.3, as a C library) with Python bindings. There
# is no `helm` binary in the registries these machines reach; hack/helm/helm.py drives this
# one for the chart's tests, the packaging script and the demo. Prints the virtualenv's python.
set -euo pipefail
HELM_PYTHON_SDK_VERSION=0.2.2   # bundles Helm v4.2.3
exec "$(dirname "$0")/../lib/venv.sh" \
  "${SWR_SYNC_HELM_VENV:-$HOME/.cache/swr-sync-operator/helm-venv-$HELM_PYTHON_SDK_VERSION}" \
  helm_python "helm-python-sdk==$HELM_PYTHON_SDK_VERSION"
