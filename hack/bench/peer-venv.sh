#!/usr/bin/env bash
# Installs the benchmark's script peer: the official Huawei Cloud SWR Python SDK from PyPI,
# in a virtualenv cached at a fixed path. Prints the virtualenv's python.
set -euo pipefail
SDK_VERSION=3.1.219   # the SDK version the request vectors in ../shared were captured with
venv="${SWR_SYNC_PEER_VENV:-$HOME/.cache/swr-sync-operator/peer-venv-$SDK_VERSION}"
if ! "$venv/bin/python" -c 'import huaweicloudsdkswr' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "huaweicloudsdkswr==$SDK_VERSION" >&2
fi
echo "$venv/bin/python"
