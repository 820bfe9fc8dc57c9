#!/usr/bin/env bash
# Installs the official Huawei Cloud Python SDKs (SWR, HSS, IAM) from PyPI in a virtualenv
# cached at a fixed path: the benchmark's script peer and the interop tests use them.
# Prints the virtualenv's python.
set -euo pipefail
SDK_VERSION=3.1.219   # the SDK version the request vectors in ../shared were captured with
# SWR for the benchmark's peer; HSS and IAM too for the interop tests (tests/offline/sdk_interop.rs).
exec "$(dirname "$0")/../lib/venv.sh" \
  "${SWR_SYNC_PEER_VENV:-$HOME/.cache/swr-sync-operator/peer-venv-$SDK_VERSION}" \
  huaweicloudsdkswr,huaweicloudsdkhss,huaweicloudsdkiam \
  "huaweicloudsdkswr==$SDK_VERSION" "huaweicloudsdkhss==$SDK_VERSION" \
  "huaweicloudsdkiam==$SDK_VERSION"
