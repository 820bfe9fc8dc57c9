#!/usr/bin/env bash
# Regenerates the checked-in manifests from their sources: crds/imagesyncrule.yaml from the
# Rust types, deploy/install.yaml from the kustomize base (tests fail when either is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --locked -- crdgen >crds/imagesyncrule.yaml
kubectl kustomize deploy/ >deploy/install.yaml
echo "rendered crds/imagesyncrule.yaml and deploy/install.yaml" >&2
