#!/usr/bin/env bash
# deploy/arm64/inner.sh REPO SHARED CACHE ROOT_KEY DEPS_KEY: the arm64 side of deploy/arm64/test.sh, run as
# PID 1 of a private mount and PID namespace (unshare). Every mount below exists only in that namespace
# and goes with it; so does every process it starts, which it also stops by PID.
set -euo pipefail

REPO=$1 SHARED=$2 CACHE=$3 ROOT_KEY=$4 DEPS_KEY=$5
HERE="$REPO/deploy/arm64"
ARM64_INNER=1
source "$HERE/steps.sh"

BASE="$CACHE/root-$ROOT_KEY"
DEPS="$CACHE/deps-$DEPS_KEY"
ROOT="$RUN/root"
VENV=/opt/edgeface-venv
# Where the clone and ../shared sit inside the root: side by side, as the tests expect.
SRC=/work/edgeface

DAEMON_PID="" ACCURACY_PID=""
cleanup() {
    local pid
    for pid in $DAEMON_PID $ACCURACY_PID; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# qemu-user runs the root's binaries: binfmt_misc must know aarch64 ELF files. The F flag of the
# package's entry opens the interpreter when it is registered, so it works inside the chroot without a copy
# of qemu there; an entry registered without it (by other tools) gets that copy in each run's layer.
BINFMT=/proc/sys/fs/binfmt_misc
binfmt() {
    mountpoint -q "$BINFMT" || mount -t binfmt_misc binfmt_misc "$BINFMT"
    [ -e "$BINFMT/qemu-aarch64" ] || cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$BINFMT/register"
    [ "$(head -1 "$BINFMT/qemu-aarch64")" = enabled ] || echo 1 >"$BINFMT/qemu-aarch64"
}
qemu_in_root() {
    local interpreter
    grep -q '^flags:.*F' "$BINFMT/qemu-aarch64" && return 0
    interpreter=$(sed -n 's/^interpreter //p' "$BINFMT/qemu-aarch64")
    install -D -m 0755 /usr/bin/qemu-aarch64-static "$ROOT$interpreter"
}

# An ARM /proc/cpuinfo matching QEMU_CPU: onnxruntime's cpuinfo reads the host's x86 one otherwise and
# crashes at import. One entry per host CPU (qemu-user runs guest threads on them).
cpuinfo() {
    local part features
    case "$QEMU_CPU" in
        cortex-a76) part=0xd0b features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
        cortex-a72) part=0xd08 features="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid" ;;
        *) fail "QEMU_CPU=$QEMU_CPU: deploy/arm64/inner.sh knows cortex-a76 (Pi 5) and cortex-a72 (Pi 4)" ;;
    esac
    local n
    for ((n = 0; n < $(nproc); n++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\n' "$n" "$features"
        printf 'CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: %s\nCPU revision\t: 1\n\n' "$part"
    done >"$RUN/cpuinfo"
}

# mount_root LOWER...: an overlay on ROOT whose upper layer is $UPPER, with what a process inside needs:
# /proc (with the ARM cpuinfo), /sys, a minimal /dev, /tmp, the host's name resolution and CA
# certificates (pip may go through a proxy whose CA only the host knows), the clone and ../shared.
mount_root() {
    local lower
    lower=$(IFS=:; echo "$*")
    mkdir -p "$UPPER" "$UPPER.work" "$ROOT"
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$UPPER,workdir=$UPPER.work" "$ROOT"
    qemu_in_root
    mount -t proc proc "$ROOT/proc"
    mount --bind "$RUN/cpuinfo" "$ROOT/proc/cpuinfo"
    mount -t sysfs -o ro sysfs "$ROOT/sys"
    mount -t tmpfs -o mode=0755,nosuid dev "$ROOT/dev"
    local node
    for node in null zero full random urandom tty; do
        touch "$ROOT/dev/$node"
        mount --bind "/dev/$node" "$ROOT/dev/$node"
    done
    mkdir -p "$ROOT/dev/shm" "$ROOT/dev/pts"
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$ROOT/dev/pts"
    ln -s pts/ptmx "$ROOT/dev/ptmx"
    ln -s /proc/self/fd "$ROOT/dev/fd"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$ROOT/tmp"
    cp -L /etc/hosts /etc/resolv.conf "$ROOT/etc/"
    cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/host-ca-certificates.crt"
    mkdir -p "$ROOT/root/.cache/pip" "$ROOT/work/shared" "$ROOT$SRC"
    mount --bind "$CACHE/pip" "$ROOT/root/.cache/pip"
    mount --bind "$SHARED" "$ROOT/work/shared"
    mount -o remount,bind,ro "$ROOT/work/shared"
    # The clone as `git clone` would give it, with what is not committed yet but not what git ignores (a venv,
    # caches, the demo's state), fresh for every run.
    git -C "$REPO" ls-files -z --cached --others --exclude-standard |
        tar -C "$REPO" --null --files-from=- --ignore-failed-read -cf - 2>/dev/null |
        tar -C "$ROOT$SRC" -xf -
    # picamera2's wheel for its test, when the host has it (make test fetched it): one download fewer.
    if [ -d "$REPO/.tools/picamera2" ]; then
        mkdir -p "$ROOT$SRC/.tools" && cp -r "$REPO/.tools/picamera2" "$ROOT$SRC/.tools/"
    fi
}

umount_root() { umount -R "$ROOT"; }

# inside COMMAND: run it in the root as root, in the clone, with a clean environment. WRAP=(...) runs
# chroot through another command; EXEC=exec replaces the caller with it (so $! of `(...) &` is the process).
WRAP=()
EXEC=""
inside() {
    $EXEC "${WRAP[@]}" chroot "$ROOT" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        QEMU_CPU="$QEMU_CPU" VENV="$VENV" \
        PIP_CERT=/etc/ssl/host-ca-certificates.crt SSL_CERT_FILE=/etc/ssl/host-ca-certificates.crt \
        PIP_DEFAULT_TIMEOUT=180 PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
        ${no_proxy:+no_proxy=$no_proxy} \
        EDGEFACE_TEST_TIME_SCALE="$EDGEFACE_TEST_TIME_SCALE" \
        /bin/bash -c "cd $SRC && $1"
}

# The README's set-up, as `make test` runs it: deploy/bootstrap.sh dev (python3-venv with apt, then the venv
# with the daemon's dependencies and the development tools).
setup() { inside "bash deploy/bootstrap.sh dev"; }

step binfmt binfmt
cpuinfo
rm -rf "$CACHE"/root-*.tmp "$CACHE"/deps-*.tmp  # a run killed while building
if [ -d "$BASE" ]; then
    fact "root cached"
else
    step debootstrap bash "$HERE/root.sh" "$BASE.tmp"
    mv "$BASE.tmp" "$BASE"
    fact "root built"
fi
if [ ! -d "$DEPS" ]; then
    UPPER="$DEPS.tmp/upper"
    mount_root "$BASE"
    step setup-cold setup
    rm -rf "${ROOT:?}$SRC"  # the clone is copied fresh on every run
    rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb
    umount_root
    rm -rf "$DEPS.tmp/upper.work"
    mv "$DEPS.tmp" "$DEPS"
    fact "dependencies installed"
fi

UPPER="$RUN/upper"
mount_root "$DEPS/upper" "$BASE"
step setup setup
step wheels inside "$VENV/bin/python deploy/arm64/wheels.py $VENV >/tmp/wheels"
fact "$(cat "$ROOT/tmp/wheels")"

# The accuracy bench runs on one core (its models take one face at a time): it runs beside the daemon and the
# tests, and is waited for at the end.
accuracy_start=$SECONDS
say "accuracy ... (beside the next steps)"
(
    EXEC=exec
    inside "exec $VENV/bin/edgeface bench accuracy --faces ../shared/faces --json"
) >"$RUN/accuracy-arm64.json" 2>"$RUN/accuracy-arm64.log" &
ACCURACY_PID=$!

# The demo daemon (make run's), on the emulation timings, in a network namespace of its own with only
# loopback up: nothing it does reaches a broker on the host, and the events stay in its outbox. Either of
# the demo's people will do: with liveness on, some frames of the clip (a broadcast) are refused as a spoof,
# and which frames the slow daemon gets to see varies from run to run.
grant() {
    local config=config/demo/emulation.yaml log="$RUN/daemon.log" start
    inside "$VENV/bin/edgeface --config $config enroll --from-dir config/demo/faces" >"$RUN/enroll.log" 2>&1 ||
        { cat "$RUN/enroll.log" >&2; return 1; }
    start=$SECONDS
    (
        WRAP=(unshare --net sh -c 'ip link set lo up && exec "$@"' sh) EXEC=exec
        inside "exec $VENV/bin/edgeface -v --config $config run"
    ) >"$log" 2>&1 &
    DAEMON_PID=$!
    local granted='decision type=granted person=(lin_manuel_miranda|alex_lacamoire) '
    while ! grep -Eq "$granted" "$log"; do
        if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            tail -20 "$log" >&2
            say "the daemon exited before it granted"
            return 1
        fi
        if [ $((SECONDS - start)) -ge "$GRANT_SECONDS" ]; then
            tail -20 "$log" >&2
            say "no grant within $GRANT_SECONDS s"
            return 1
        fi
        sleep 1
    done
    fact "granted $(grep -Eo "$granted" "$log" | head -1 | sed 's/.*person=//; s/ $//') after $((SECONDS - start)) s"
    # A stop locks the relay and exits 0.
    kill -TERM "$DAEMON_PID"
    local rc=0
    wait "$DAEMON_PID" || rc=$?
    DAEMON_PID=""
    [ "$rc" = 0 ] || { tail -20 "$log" >&2; say "the daemon exited $rc on SIGTERM"; return 1; }
}
step grant grant

tests() {
    local deselect="" test
    for test in $ARM64_DESELECT; do deselect+=" --deselect $test"; done
    inside "VENV=$VENV bash deploy/picamera2-wheel.sh" || return 1
    inside "$VENV/bin/python -m pytest -q -p no:cacheprovider --durations=20 -m 'not slow'$deselect $ARM64_TESTS" \
        >"$RUN/pytest.log" 2>&1 || { grep -E '^(FAILED|ERROR) ' "$RUN/pytest.log" >&2; tail -3 "$RUN/pytest.log" >&2; return 1; }
    fact "$(tail -1 "$RUN/pytest.log" | tr -d '=' | sed 's/^ *//; s/ *$//') (time scale $EDGEFACE_TEST_TIME_SCALE)"
}
step tests tests

accuracy_rc=0
children_ticks
accuracy_ticks=$TICKS  # its CPU time counts when it is reaped, here
wait "$ACCURACY_PID" || accuracy_rc=$?
ACCURACY_PID=""
children_ticks
echo "accuracy $((SECONDS - accuracy_start)) $(((TICKS - accuracy_ticks) / CLK_TCK))" >>"$RUN/steps"
say "accuracy: $((SECONDS - accuracy_start)) s since it started"
[ "$accuracy_rc" = 0 ] || { tail -5 "$RUN/accuracy-arm64.log" >&2; fail "step accuracy failed (exit $accuracy_rc)"; }
umount_root
