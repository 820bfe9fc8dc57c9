#!/usr/bin/env bash
# Regenerates the checked-in manifests from their sources: crds/imagesyncrule.yaml from the
# Rust types, deploy/install.yaml from the kustomize base, the Helm chart's copy of the CRD
# (tests fail when any is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
# Through temporary files: a failed build must not leave an empty manifest behind.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cargo run --quiet --locked -- crdgen >"$tmp" && cp "$tmp" crds/imagesyncrule.yaml
kubectl kustomize deploy/ >"$tmp" && cp "$tmp" deploy/install.yaml
# Helm charts cannot read files outside their directory: the chart carries a copy.
cp crds/imagesyncrule.yaml deploy/helm/swr-sync-operator/files/imagesyncrule.yaml
echo "rendered crds/imagesyncrule.yaml, deploy/install.yaml and the chart's CRD" >&2
