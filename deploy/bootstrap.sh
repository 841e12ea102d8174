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
# Home Assistant core for tests/e2e/test_home_assistant.py, in its own venv under .tools/ (quick once installed).
bash "$(dirname "${BASH_SOURCE[0]}")/homeassistant.sh"
echo "bootstrap: ready ($("$VENV/bin/python" --version), $VENV)"
