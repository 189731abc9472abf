#!/usr/bin/env bash
# test/v2vm/systemd-tests.sh [JSON]: run the systemd group (test/integration/systemd-*.test.ts) with jest
# in the cgroup-v2 VM booted with systemd as PID 1 (run.sh --systemd), one boot for all of them. Expects
# the host build (bin/, bundles/) to be done. Writes jest's --json results to JSON (default
# build/v2vm-systemd-jest.json; its directory is shared into the VM) and exits with jest's status, or
# 124/125 when the VM timed out or failed (then JSON is absent: the caller must count that as a failure).
# The group runs with runc, and with tsrun too once `bin/tsrun features` says linux.cgroup.systemd.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
json=${1:-$repo/build/v2vm-systemd-jest.json}
# The directory first: readlink -f of a path under a missing directory prints nothing.
mkdir -p "$(dirname "$json")"
json=$(readlink -f "$json")
rm -f "$json"
cd "$repo"
mapfile -t files < <(ls test/integration/systemd-*.test.ts 2>/dev/null)
[ ${#files[@]} -gt 0 ] || { echo "v2vm: no test/integration/systemd-*.test.ts" >&2; exit 1; }
# As cgroup-tests.sh: one worker, long test timeouts under TCG, tini as the subreaper for the inits
# that runtimes' `create` orphans (systemd as PID 1 would reap them too, but jest's own children
# should not depend on which PID 1 the VM has).
# jest's transform cache is build/jest-cache (package.json), in the repository the VM shares: the host's
# run has compiled the test files already, which under TCG would take minutes.
export V2VM_RW="${V2VM_RW:-} $(dirname "$json")"
export V2VM_TIMEOUT=${V2VM_TIMEOUT:-1500}
exec "$repo/test/v2vm/run.sh" --systemd tini -s -g -- node --experimental-vm-modules node_modules/jest/bin/jest.js \
  --runInBand --forceExit --testTimeout=120000 --json --outputFile="$json" "${files[@]}"
