#!/usr/bin/env bash
# Node-RED for tests/e2e/test_node_red.py: exactly the versions in deploy/node-red/package-lock.json,
# installed in the gitignored .tools/node-red/ (override with NODE_RED_DIR). deploy/test-tools.sh runs it.
# Idempotent: when the installed tree was made from this very lock file it returns at once.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dest=${NODE_RED_DIR:-$(cd "$here/../.." && pwd)/.tools/node-red}
stamp="$dest/.installed-from"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)

if [ -x "$dest/node_modules/.bin/node-red" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi
for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "node-red: $tool is missing (apt-get install nodejs npm)" >&2; exit 1; }
done
echo "node-red: installing $(grep -o '"node-red": "[^"]*"' "$here/package.json" | head -1) into $dest"
mkdir -p "$dest"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
# npm ci: the lock file's versions and hashes, nothing resolved afresh; no audit, funding or update nags.
npm ci --prefix "$dest" --no-audit --no-fund --no-update-notifier --loglevel=error
# Written last: an interrupted install is never mistaken for a finished one.
echo "$want" >"$stamp"
