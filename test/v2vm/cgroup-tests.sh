#!/usr/bin/env bash
# test/v2vm/cgroup-tests.sh [JSON]: run the cgroup integration tests (test/integration/cgroup-*.test.ts)
# with jest in the cgroup-v2 VM (run.sh), one boot for all of them, and the tests of kernel features this
# host lacks that the VM's Debian 6.1 kernel has (seccomp-arch.test.ts: i386 syscalls, which this
# host's kernel kills with SIGSEGV), and checkpoint/restore (criu.test.ts: CRIU 3.17 fails `criu check` on
# this host's kernel, passes on the VM's). Expects the host build (bin/,
# bundles/) to be done. Writes jest's --json results to JSON (default build/v2vm-jest.json; its
# directory is shared into the VM) and exits with jest's status, or 124/125 when the VM timed out
# or failed (then JSON is absent: the caller must count that as a failure).
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
json=${1:-$repo/build/v2vm-jest.json}
# The directory first: readlink -f of a path under a missing directory prints nothing.
mkdir -p "$(dirname "$json")"
json=$(readlink -f "$json")
rm -f "$json"
cd "$repo"
mapfile -t files < <(ls test/integration/cgroup-*.test.ts test/integration/seccomp-arch.test.ts test/integration/criu.test.ts 2>/dev/null)
[ ${#files[@]} -gt 0 ] || { echo "v2vm: no test/integration/cgroup-*.test.ts" >&2; exit 1; }
# Under TCG everything is 10-30x slower: one worker (2 guest CPUs), long test timeouts, and tini
# as the subreaper for container inits orphaned by `create` (as in test/run-all.sh).
export V2VM_RW="${V2VM_RW:-} $(dirname "$json")"
# The group takes ~2.5 min here (132 s of jest, 2026-12-03) without criu.test.ts, ~10 min with it on a shared
# CPU (its dumps and podman runs, 2026-12-03); the limit leaves room for a slower CI host.
export V2VM_TIMEOUT=${V2VM_TIMEOUT:-1500}
exec "$repo/test/v2vm/run.sh" tini -s -g -- node --experimental-vm-modules node_modules/jest/bin/jest.js \
  --runInBand --forceExit --testTimeout=120000 --json --outputFile="$json" "${files[@]}"
