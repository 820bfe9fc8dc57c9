#!/usr/bin/env bash
# The project's cached Python virtualenvs, one shape for all: hack/lib/venv.sh VENV IMPORTS
# PACKAGE... creates VENV with the PyPI PACKAGEs unless python there already imports IMPORTS
# (comma-separated modules), then prints the virtualenv's python.
set -euo pipefail
venv=$1 imports=$2
shift 2
if ! "$venv/bin/python" -c "import $imports" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
fi
echo "$venv/bin/python"
