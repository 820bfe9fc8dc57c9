#!/usr/bin/env bash
# Packages the Helm chart (`helm package`, by the real Helm engine) into DEST (default
# target/chart/), at the crate's version: Chart.yaml's version and appVersion must equal
# Cargo.toml's, so a release of the crate and of the chart are one thing. The chart is
# linted first; a lint error stops the packaging. Prints the archive's path.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-target/chart}"
chart=deploy/helm/swr-sync-operator
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
python=$(hack/helm/venv.sh)
for field in version appVersion; do
  found=$(sed -n "s/^$field: \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$chart/Chart.yaml")
  if [ "$found" != "$version" ]; then
    echo "$chart/Chart.yaml has $field $found, the crate is $version: set it to $version" >&2
    exit 1
  fi
done
mkdir -p "$dest"
ask() { "$python" hack/helm/helm.py; }
lint=$(printf '{"op": "lint", "chart": "%s", "strict": true}' "$PWD/$chart" | ask)
if ! printf '%s' "$lint" | python3 -c 'import json, sys; r = json.load(sys.stdin); sys.exit(1 if "error" in r or r["ok"]["errors"] else 0)'; then
  echo "helm lint failed: $lint" >&2
  exit 1
fi
answer=$(printf '{"op": "package", "chart": "%s", "destination": "%s", "version": "%s", "app_version": "%s"}' \
  "$PWD/$chart" "$(cd "$dest" && pwd)" "$version" "$version" | ask)
printf '%s' "$answer" | python3 -c '
import json, sys
answer = json.load(sys.stdin)
if "error" in answer:
    sys.exit("helm package failed: " + answer["error"]["message"])
print(answer["ok"])'
