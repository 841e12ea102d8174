#!/usr/bin/env bash
# The set-up `make run` needs: python3-venv, then the virtualenv with edgeface and what the daemon needs.
# `bootstrap.sh dev` (what `make test` runs) adds the development tools, the `dev` extra of pyproject.toml.
# The tests' own servers and clients are deploy/test-tools.sh. Safe to run again; it only installs what is missing.
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
case "${1:-}" in
    "") spec=. ;;
    dev) spec='.[dev]' ;;
    *) echo "usage: bootstrap.sh [dev]" >&2; exit 2 ;;
esac
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

missing=()
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
apt_install bootstrap "${missing[@]}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e "$spec"
echo "bootstrap: ready ($("$VENV/bin/python" --version), $VENV)"
