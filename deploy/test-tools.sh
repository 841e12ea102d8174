#!/usr/bin/env bash
# The real clients and servers the tests start, used by `make test` (not by `make run`, which needs none
# of them): system packages, then Node-RED and Home Assistant under the gitignored .tools/.
# Safe to run again; it only installs what is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/apt.sh"

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
# node, npm: node-red/install.sh installs the Node-RED that the flow test imports deploy/node-red/flow.json into.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
apt_install test-tools "${missing[@]}"
# Debian starts the packaged broker (and Prometheus) as services where systemd runs; the tests start
# their own on free ports and do not need them.

# picamera2's released wheel, read by the picamera2 source's test.
bash "$here/picamera2-wheel.sh"

# Node-RED for tests/e2e/test_node_red.py, pinned by its lock file, in .tools/node-red/.
bash "$here/node-red/install.sh"
# Home Assistant core for tests/e2e/test_home_assistant.py, in its own venv under .tools/homeassistant/.
bash "$here/homeassistant.sh"
echo "test-tools: ready"
