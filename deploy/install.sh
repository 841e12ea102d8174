#!/usr/bin/env bash
# Install edgeface as a systemd service on Raspberry Pi OS (Bookworm) or Jetson (JetPack 6); see docs/install.md.
#
#   sudo deploy/install.sh                 # system install, service enabled and started
#   deploy/install.sh --prefix /tmp/root   # everything under another root (no apt, no systemctl; the user only
#                                          # when ROOT/etc/passwd exists, as in an image being built)
#   options: --no-apt, --no-start, --no-venv (lay out files only; for packagers and the tests)
#
# Layout: /opt/edgeface/{src,venv,models}, /etc/edgeface/edgeface.yaml (kept if present),
# /etc/systemd/system/edgeface.service, state in /var/lib/edgeface (systemd StateDirectory, 0700).
#
# Device access comes from the user's groups, not from the unit: the edgeface user joins whichever of
# gpio (/dev/gpiochip* on Raspberry Pi OS) and video (/dev/video*, /dev/media*, /dev/dma_heap) exist.
# systemd gives a User= service that user's groups; naming them in SupplementaryGroups= instead would
# fail the unit (216/GROUP) on a system without them (a stock Debian has no gpio group), and
# `sudo -u edgeface edgeface enroll --camera` needs the same membership.
set -euo pipefail

PREFIX=""
APT=1
START=1
VENV=1
usage() { sed -n '2,10p' "$0"; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=$(realpath -m "$2"); APT=0; START=0; shift 2 ;;
        --no-apt) APT=0; shift ;;
        --no-start) START=0; shift ;;
        --no-venv) VENV=0; shift ;;
        -h|--help) usage ;;
        *) echo "install.sh: unknown option $1" >&2; usage 2 ;;
    esac
done

# Supported: Raspberry Pi OS bookworm (glibc 2.36, Python 3.11) and Jetson on JetPack 6 (Ubuntu 22.04: glibc 2.35,
# Python 3.10). lgpio, which drives relay.chip where apt has no python3-lgpio, has aarch64 wheels for glibc >= 2.34
# only (below that pip finds an empty placeholder); onnxruntime's need 2.28. JetPack 5 (Ubuntu 20.04: glibc 2.31,
# Python 3.8) and Raspberry Pi OS bullseye (2.31, 3.9) are too old.
GLIBC_FLOOR=2.34
PYTHON_FLOOR=3.10

SRC=$(cd "$(dirname "$0")/.." && pwd)
OPT="$PREFIX/opt/edgeface"
ETC="$PREFIX/etc/edgeface"
UNIT_DIR="$PREFIX/etc/systemd/system"
USER_NAME=edgeface

say() { echo "install.sh: $*"; }

# Raspberry Pi OS, the one OS whose apt has picamera2 with the libcamera it needs: its image leaves
# /etc/rpi-issue (64-bit bookworm says ID=debian); the 32-bit one says ID=raspbian.
is_raspberry_pi_os() { [ -e /etc/rpi-issue ] || grep -qx 'ID="\{0,1\}raspbian"\{0,1\}' /etc/os-release 2>/dev/null; }

older() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" != "$2" ]; }  # older HAVE FLOOR
unsupported() {
    echo "install.sh: $*; supported: Raspberry Pi OS bookworm, JetPack 6 (not JetPack 5 or Raspberry Pi OS bullseye)" >&2
    exit 1
}
# Before anything is installed: what pip will need of this machine (--no-venv installs no wheels).
if [ "$VENV" = 1 ]; then
    glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
    if [ -z "$glibc" ]; then
        say "warning: cannot tell this system's glibc version; edgeface's wheels need glibc >= $GLIBC_FLOOR"
    elif older "$glibc" "$GLIBC_FLOOR"; then
        unsupported "glibc $glibc is older than $GLIBC_FLOOR, which edgeface's Python wheels need"
    fi
    python=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || python=""
    if [ -n "$python" ] && older "$python" "$PYTHON_FLOOR"; then
        unsupported "python3 is $python, edgeface needs $PYTHON_FLOOR or newer"
    fi
fi

if [ "$APT" = 1 ]; then
    [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo), or use --prefix" >&2; exit 1; }
    apt-get update -qq
    pkgs=(python3-venv python3-pip)
    # Picamera2 and the GPIO library come from the OS (picamera2 needs the OS's libcamera, which pip cannot
    # give); the venv sees them through --system-site-packages.
    if is_raspberry_pi_os; then
        pkgs+=(python3-picamera2 python3-libcamera python3-lgpio)
    else
        apt-cache show python3-lgpio >/dev/null 2>&1 && pkgs+=(python3-lgpio)
        say "not Raspberry Pi OS: no picamera2 (camera.source: opencv for a USB camera or an rtsp:// stream)"
    fi
    say "apt packages: ${pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

# Users and groups of the system being installed: this one, or the image under --prefix.
has_entry() { if [ -z "$PREFIX" ]; then getent "$1" "$2" >/dev/null; else grep -q "^$2:" "$PREFIX/etc/$1"; fi; }
shadow_tool() { if [ -z "$PREFIX" ]; then "$@"; else "$1" --prefix "$PREFIX" "${@:2}"; fi; }

if [ -z "$PREFIX" ] || [ -f "$PREFIX/etc/passwd" ]; then
    if ! has_entry passwd "$USER_NAME"; then
        shadow_tool useradd --system --user-group --home-dir /var/lib/edgeface --no-create-home \
            --shell /usr/sbin/nologin "$USER_NAME"
        say "created system user $USER_NAME"
    fi
    declare -A devices=([gpio]="/dev/gpiochip*" [video]="/dev/video*, /dev/media*, /dev/dma_heap/*")
    for group in gpio video; do
        if has_entry group "$group"; then
            shadow_tool usermod -aG "$group" "$USER_NAME"
            say "$USER_NAME is in group $group"
        else
            say "no $group group here: $USER_NAME opens ${devices[$group]} only if a udev rule lets it"
        fi
    done
fi

say "installing into $OPT"
install -d -m 0755 "$OPT" "$OPT/models" "$UNIT_DIR"
install -d -m 0750 "$ETC"
rm -rf "$OPT/src"
mkdir -p "$OPT/src"
tar -C "$SRC" --exclude=.venv --exclude=.git --exclude='__pycache__' --exclude='*.egg-info' -cf - . | tar -C "$OPT/src" -xf -
install -m 0644 "$SRC"/models/*.onnx "$SRC"/models/LICENSE-* "$SRC"/models/NOTICE-* "$SRC"/models/SHA256SUMS \
    "$OPT/models/"

if [ "$VENV" = 1 ]; then
    if [ -f "$OPT/venv/pyvenv.cfg" ] && ! grep -qx 'include-system-site-packages = true' "$OPT/venv/pyvenv.cfg"; then
        say "rebuilding $OPT/venv with --system-site-packages: it could not see the OS's picamera2 and lgpio"
        rm -rf "$OPT/venv"
    fi
    if [ ! -x "$OPT/venv/bin/python" ]; then
        # System site-packages give the venv the OS's picamera2/libcamera and lgpio bindings.
        python3 -m venv --system-site-packages "$OPT/venv"
    fi
    "$OPT/venv/bin/python" -m pip install --quiet --upgrade pip
    "$OPT/venv/bin/python" -m pip install --quiet "$OPT/src"
fi
EDGEFACE="$OPT/venv/bin/edgeface"

CONFIG="$ETC/edgeface.yaml"
if [ -f "$CONFIG" ]; then
    say "keeping existing $CONFIG"
else
    source=opencv
    [ -x "$OPT/venv/bin/python" ] && "$OPT/venv/bin/python" -c 'import picamera2' 2>/dev/null && source=picamera2
    sed -e "s|^models_dir: .*|models_dir: /opt/edgeface/models|" \
        -e "s|^# state_dir: .*|state_dir: /var/lib/edgeface|" \
        -e "s|^  source: file .*|  source: $source|" \
        "$SRC/config/edgeface.yaml" > "$CONFIG"
    chmod 0640 "$CONFIG"
    say "wrote $CONFIG (camera source: $source)"
fi
install -m 0644 "$SRC/systemd/edgeface.service" "$UNIT_DIR/edgeface.service"

# MemoryDenyWriteExecute=true keeps a library that needs an executable stack from loading at all (some
# onnxruntime wheels do): then the daemon would never start, so it is turned off here, and only here.
DROPIN="$UNIT_DIR/edgeface.service.d/memory-deny-write-execute.conf"
if [ -x "$OPT/venv/bin/python" ]; then
    found=0
    needs=$("$OPT/venv/bin/python" "$SRC/deploy/execstack.py") || found=$?
    if [ "$found" = 0 ]; then
        rm -f "$DROPIN"
    elif [ "$found" = 3 ]; then
        install -d -m 0755 "$(dirname "$DROPIN")"
        {
            echo "# Written by deploy/install.sh: these need an executable stack, which MemoryDenyWriteExecute forbids:"
            sed 's/^/#   /' <<<"$needs"
            printf '[Service]\nMemoryDenyWriteExecute=false\n'
        } > "$DROPIN"
        say "MemoryDenyWriteExecute turned off in $DROPIN: $(tr '\n' ' ' <<<"$needs")need an executable stack"
    else
        exit "$found"
    fi
fi

if [ -z "$PREFIX" ]; then
    chgrp "$USER_NAME" "$ETC" "$CONFIG"
    "$EDGEFACE" config check "$CONFIG"
    systemctl daemon-reload
    systemctl enable edgeface.service
    [ "$START" = 1 ] && systemctl restart edgeface.service
    say "done: journalctl -u edgeface -f to watch it; enrol people with"
    say "  sudo -u $USER_NAME $EDGEFACE --config $CONFIG enroll --from-dir faces/"
else
    say "done (prefix $PREFIX: no systemctl)"
fi
