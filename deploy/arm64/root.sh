#!/usr/bin/env bash
# deploy/arm64/root.sh DIR: a minimal arm64 Debian bookworm root in DIR, as a Raspberry Pi OS or Jetson
# owner starts from: python3 and nothing of the project (deploy/bootstrap.sh installs the rest inside it,
# as on the device), plus mosquitto for the MQTT tests. Run by deploy/arm64/test.sh inside its private
# mount namespace, so the /proc and /sys debootstrap mounts in DIR never reach the host.
# Its sha256 is part of the cache key: change what it installs and the root is rebuilt.
set -euo pipefail

DIR=$1
SUITE=bookworm
MIRROR=${EDGEFACE_ARM64_MIRROR:-http://deb.debian.org/debian}

# The second stage runs arm64 binaries through qemu-user (binfmt_misc, registered by inner.sh). A download
# that fails is tried again once, from scratch: a flaky mirror must not fail CI.
for attempt in 1 2; do
    if debootstrap --arch=arm64 --variant=minbase --include=python3,ca-certificates,mosquitto \
        "$SUITE" "$DIR" "$MIRROR"; then
        break
    fi
    [ "$attempt" = 1 ] || exit 1
    echo "root.sh: debootstrap failed; once more" >&2
    for fs in proc sys dev/pts; do ! mountpoint -q "$DIR/$fs" || umount -l "$DIR/$fs"; done
    rm -rf "${DIR:?}"
done
printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" > "$DIR/etc/apt/sources.list"
echo 'Acquire::Retries "5";' > "$DIR/etc/apt/apt.conf.d/80-retries"
# Nothing starts services in a chroot (mosquitto's postinst would try).
printf '#!/bin/sh\nexit 101\n' > "$DIR/usr/sbin/policy-rc.d"
chmod 0755 "$DIR/usr/sbin/policy-rc.d"
rm -rf "$DIR"/var/cache/apt/archives/*.deb "$DIR"/var/lib/apt/lists/*
