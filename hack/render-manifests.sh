#!/usr/bin/env bash
# Regenerates the checked-in manifests from their sources: crds/imagesyncrule.yaml from the
# Rust types, deploy/install.yaml from the kustomize base (tests fail when either is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
# Through temporary files: a failed build must not leave an empty manifest behind.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cargo run --quiet --locked -- crdgen >"$tmp" && cp "$tmp" crds/imagesyncrule.yaml
kubectl kustomize deploy/ >"$tmp" && cp "$tmp" deploy/install.yaml
echo "rendered crds/imagesyncrule.yaml and deploy/install.yaml" >&2
