#!/usr/bin/env bash
# make test-arm64: edgeface on an emulated arm64 Debian bookworm (a Raspberry Pi OS / Jetson userland) under
# qemu-user, set up with the README's own deploy/bootstrap.sh (as `make test` runs it), then checked:
#   wheels    every installed distribution is a PyPI aarch64 (or pure-Python) wheel, nothing built here
#   accuracy  `bench accuracy --faces ../shared/faces --json` gives x86's TAR, FAR and threshold (to 1e-3);
#             it runs on one core, beside the next two steps
#   grant     the demo daemon grants one of its people on config/demo/emulation.yaml within GRANT_SECONDS
#   tests     the quick test tier (not marked slow) of the subsystems nearest the hardware, every wait of
#             tests/support stretched by EDGEFACE_TEST_TIME_SCALE
# It prints each step's wall and CPU time and one summary line; exit status 0 only when every check passed.
#
# Runs as root (debootstrap, chroot, mounts). Everything it mounts lives in a private mount and PID
# namespace (deploy/arm64/inner.sh under unshare): the mounts go when the namespace does, and so does
# any process left inside. The only host state it changes: apt packages (debootstrap, qemu-user-static)
# and the kernel's qemu-aarch64 binfmt_misc entry, which the qemu-user-static package registers anyway.
#
# The root is cached outside the clone, in $EDGEFACE_ARM64_CACHE (default /var/cache/edgeface-arm64):
#   root-<key>  debootstrap's root; key: sha256 of deploy/arm64/root.sh
#   deps-<key>  an overlay of that root after deploy/bootstrap.sh; key: the root's key, bootstrap.sh,
#               apt.sh and pyproject.toml's dependencies
#   pip/        pip's download cache, shared by every key
# Each run mounts its own overlay on top and throws it away. `rm -rf /var/cache/edgeface-arm64` starts cold.
#
# Knobs: QEMU_CPU (cortex-a76: a Pi 5), EDGEFACE_SHARED, GRANT_SECONDS, EDGEFACE_TEST_TIME_SCALE, ARM64_TESTS,
# ARM64_DESELECT.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$REPO/deploy/arm64"
SHARED=$(realpath "${EDGEFACE_SHARED:-$REPO/../shared}")
CACHE=${EDGEFACE_ARM64_CACHE:-/var/cache/edgeface-arm64}
HOST_VENV=${VENV:-.venv}
export QEMU_CPU=${QEMU_CPU:-cortex-a76}
export GRANT_SECONDS=${GRANT_SECONDS:-600}
export EDGEFACE_TEST_TIME_SCALE=${EDGEFACE_TEST_TIME_SCALE:-20}
export ARM64_TESTS=${ARM64_TESTS:-tests/vision tests/storage tests/door tests/capture tests/config tests/mqtt}
# Left out under emulation: they count the frames a real video decoder delivers in a fixed real time, which
# an emulated CPU decodes too slowly to reach (9 frames for the 15 expected); their waits are not waits for
# an event, so the time scale does not apply. They run in make test.
export ARM64_DESELECT=${ARM64_DESELECT:-tests/capture/test_camera.py::test_opencv_backend_reads_without_pacing \
tests/capture/test_camera.py::test_a_slow_consumer_gets_recent_frames_not_a_backlog}

cd "$REPO"
[ "$(id -u)" -eq 0 ] || { echo "test-arm64: run as root (debootstrap, chroot and mounts need it)" >&2; exit 1; }
mkdir -p "$CACHE/pip"
chmod 0755 "$CACHE"
RUN=$(mktemp -d "$CACHE/run.XXXXXX")
export RUN
source "$HERE/steps.sh"

INNER_PID="" X86_PID=""
cleanup() {
    local rc=$?
    # By PID only. unshare ignores SIGTERM while it waits for the namespace's init, and killed it kills that
    # init (--kill-child), and the kernel every process left in the namespace; the x86 bench stops on TERM.
    if [ -n "$INNER_PID" ]; then kill -KILL "$INNER_PID" 2>/dev/null && wait "$INNER_PID" 2>/dev/null; fi
    if [ -n "$X86_PID" ]; then kill -TERM "$X86_PID" 2>/dev/null && wait "$X86_PID" 2>/dev/null; fi
    # The run's overlay layer. Its mounts lived in the namespace: once the last process there is gone, nothing
    # is mounted on it (until then its mount point is busy, hence the few tries).
    local try
    for try in 1 2 3 4 5; do rm -rf "$RUN" 2>/dev/null && break; sleep 1; done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -d "$SHARED/faces" ] || fail "$SHARED/faces: no such folder (EDGEFACE_SHARED names ../shared)"
[ -x "$HOST_VENV/bin/edgeface" ] || fail "$HOST_VENV/bin/edgeface missing (make test-arm64 sets up .venv first)"

source "$REPO/deploy/apt.sh"
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
step host-packages apt_install test-arm64 "${missing[@]}"

# Keys: what made each cached layer. pyproject.toml counts only for its dependencies (a pytest or ruff
# setting changes no installed package).
deps_of_pyproject() {
    python3 -c 'import json, sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(json.dumps([p["dependencies"], p.get("optional-dependencies", {}), p.get("requires-python")], sort_keys=True))' \
        pyproject.toml
}
ROOT_KEY=$(sha256sum "$HERE/root.sh" | cut -c1-16)
DEPS_KEY=$({ echo "$ROOT_KEY"; cat deploy/bootstrap.sh deploy/apt.sh; deps_of_pyproject; } | sha256sum | cut -c1-16)

# One run at a time on this machine: a second one (another clone) waits for the cache.
exec 9>"$CACHE/.lock"
flock 9
# What a run killed without its clean-up left behind (none runs beside this one now).
for stale in "$CACHE"/run.*; do [ "$stale" = "$RUN" ] || rm -rf "$stale"; done

# The x86 reference of the same commit, on the host while the arm64 side runs.
"$HOST_VENV/bin/edgeface" bench accuracy --faces "$SHARED/faces" --json >"$RUN/accuracy-x86.json" 2>"$RUN/accuracy-x86.log" &
X86_PID=$!

unshare --mount --propagation private --pid --fork --kill-child \
    bash "$HERE/inner.sh" "$REPO" "$SHARED" "$CACHE" "$ROOT_KEY" "$DEPS_KEY" &
INNER_PID=$!
inner_rc=0
wait "$INNER_PID" || inner_rc=$?
INNER_PID=""

x86_rc=0
wait "$X86_PID" || x86_rc=$?
X86_PID=""
[ "$x86_rc" = 0 ] || { tail -5 "$RUN/accuracy-x86.log" >&2; fail "the x86 accuracy bench exited $x86_rc"; }
[ "$inner_rc" = 0 ] || fail "inside the arm64 root (exit $inner_rc)"

step compare python3 "$HERE/compare.py" "$RUN/accuracy-x86.json" "$RUN/accuracy-arm64.json" "$RUN/facts"
summary
