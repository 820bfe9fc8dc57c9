#!/usr/bin/env bash
# Regenerates the checked-in manifests from their sources: crds/imagesyncrule.yaml from the
# Rust types, deploy/install.yaml from the kustomize base, the Helm chart's copies of the CRD
# and the alerting rules, the PrometheusRule of deploy/components/prometheusrule (tests fail
# when any is stale).
set -euo pipefail
cd "$(dirname "$0")/.."
# Through temporary files: a failed build must not leave an empty manifest behind.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cargo run --quiet --locked -- crdgen >"$tmp" && cp "$tmp" crds/imagesyncrule.yaml
kubectl kustomize deploy/ >"$tmp" && cp "$tmp" deploy/install.yaml
# Helm charts cannot read files outside their directory: the chart carries copies.
cp crds/imagesyncrule.yaml deploy/helm/swr-sync-operator/files/imagesyncrule.yaml
cp deploy/monitoring/alerts.yaml deploy/helm/swr-sync-operator/files/alerts.yaml
# The alerting rules as a PrometheusRule, for the kustomize component.
{
  echo "# Generated from deploy/monitoring/alerts.yaml by hack/render-manifests.sh; do not edit."
  printf '%s\n' "apiVersion: monitoring.coreos.com/v1" "kind: PrometheusRule" "metadata:" \
    "  name: swr-sync-operator" "  namespace: swr-sync-system" "  labels:" \
    "    app.kubernetes.io/name: swr-sync-operator" "spec:"
  grep -v '^#' deploy/monitoring/alerts.yaml | sed 's/^/  /'
} >"$tmp" && cp "$tmp" deploy/components/prometheusrule/prometheusrule.yaml
echo "rendered crds/imagesyncrule.yaml, deploy/install.yaml, the chart's copies and the PrometheusRule" >&2
