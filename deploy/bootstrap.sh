#!/usr/bin/env bash
# Development set-up used by `make run` and `make test`: system packages, then the virtualenv.
# Safe to run again; it only installs what is missing.
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "bootstrap: need root to run: $*" >&2; exit 1
    fi
}

missing=()
# mosquitto: the tests start their own broker from this binary.
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
# openssl: the TLS tests make a throwaway CA and broker certificate.
command -v openssl >/dev/null || missing+=(openssl)
# chromium: the live view test loads the page in headless Chromium.
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
# promtool (Debian ships it only in prometheus: 19 MB download, 96 MB installed, ~15 s): the metrics test lints
# a running daemon's /metrics with it.
command -v promtool >/dev/null || missing+=(prometheus)
# systemd-analyze: the install tests verify the unit and rate its hardening (containers often lack systemd).
command -v systemd-analyze >/dev/null || missing+=(systemd)
# node, npm: deploy/node-red/install.sh installs the Node-RED that the flow test imports deploy/node-red/flow.json into.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts the packaged broker as a service; edgeface's tests do not need it, and a
# daemon on its defaults simply publishes to it if it runs.

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[dev]'
# Node-RED for tests/e2e/test_node_red.py, pinned by its lock file, in .tools/node-red/ (quick once installed).
bash "$(dirname "${BASH_SOURCE[0]}")/node-red/install.sh"
# Home Assistant core for tests/e2e/test_home_assistant.py, in its own venv under .tools/ (quick once installed).
bash "$(dirname "${BASH_SOURCE[0]}")/homeassistant.sh"
echo "bootstrap: ready ($("$VENV/bin/python" --version), $VENV)"
