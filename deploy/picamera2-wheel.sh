#!/usr/bin/env bash
# picamera2's released wheel into .tools/picamera2/, for tests/capture/test_picamera2_api.py, which reads the
# source (never installs it: picamera2 needs the OS's libcamera) to check the camera source against its real
# signatures. Run by deploy/test-tools.sh, and inside the arm64 root by deploy/arm64/inner.sh.
set -euo pipefail

PICAMERA2=0.3.38
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools
if ! ls "$tools/picamera2/picamera2-$PICAMERA2-"*.whl >/dev/null 2>&1; then
    "${VENV:-.venv}/bin/python" -m pip download --quiet --no-deps --only-binary :all: \
        "picamera2==$PICAMERA2" -d "$tools/picamera2"
fi
