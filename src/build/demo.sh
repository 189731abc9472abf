#!/usr/bin/env bash
# `npm run demo`: from a fresh clone (as root), install what tsrun needs, build it, build
# the demo bundle's rootfs and run the demo container (bundles/busybox: /demo.sh prints
# what it sees from inside).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: tsrun creates namespaces, mounts and cgroups: run it as root" >&2
  exit 1
fi

src/build/install-deps.sh
if [ ! -f package-lock.json ]; then
  npm install --no-audit --no-fund
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
bundles/build-all.sh

# A container left by an interrupted earlier demo would make `run` refuse the id.
bin/tsrun delete --force demo >/dev/null 2>&1 || true
echo
echo "+ bin/tsrun run --bundle bundles/busybox demo"
echo
# tini -s: a subreaper, for machines whose PID 1 does not reap orphans (this one's).
exec tini -s -- bin/tsrun run --bundle bundles/busybox demo
