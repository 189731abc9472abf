#!/usr/bin/env bash
# The whole test run, from a fresh clone: `npm run test:all` (and `.ci/run`, which runs
# exactly that). Must be run as root: the integration tests start real containers.
#
#  1. Debian packages (src/build/install-deps.sh --test)
#  2. npm ci (npm install when there is no lockfile; skipped when node_modules is
#     already up to date with package-lock.json, outside CI)
#  3. npm run build (tsrun-init, generated validator, bin/tsrun)
#  4. bundles/build-all.sh (busybox rootfs of the example bundles)
#  5. jest (`npm test -- --forceExit`) under `tini -s`: a child subreaper, so container inits orphaned
#     when `create` returns are reaped (this machine's PID 1 does not reap orphans);
#     results also go to a JSON file
#  6. the cgroup integration tests again in a cgroup-v2-only VM (test/v2vm/cgroup-tests.sh)
#  7. the systemd group (test/integration/systemd-*.test.ts) in the same VM booted with systemd as
#     PID 1 (test/v2vm/systemd-tests.sh)
#  8. a leak check: mounts, cgroups, tsrun-init processes and test users left behind
#  9. the closing line `N passed, N failed[, N skipped]`, from the JSONs; exit status
#     non-zero when a test failed, a suite could not run, jest failed otherwise
#     (e.g. globalSetup/globalTeardown), nothing ran, or something leaked.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

step() { printf '\n=== %s\n' "$*" >&2; }

# counts <jest-json>: "passed failed skipped total ok|missing" from jest's --json results.
# failed = failed tests + suites that failed to run, so a broken suite (syntax error, failing
# import, crash) is never silent.
counts() {
  node -e '
    const fs = require("node:fs");
    let r;
    try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); }
    catch { console.log("0 0 0 0 missing"); process.exit(0); }
    const n = (k) => Number(r[k]) || 0;
    const skipped = n("numPendingTests") + n("numTodoTests");
    const passed = n("numTotalTests") - n("numFailedTests") - skipped;
    const failed = n("numFailedTests") + n("numRuntimeErrorTestSuites");
    console.log(passed, failed, skipped, n("numTotalTests"), "ok");
  ' "$1"
}

# summarize <jest-json> <jest-exit-status> <leaks> [<v2vm-jest-json> <v2vm-exit-status>
#   [<systemd-vm-jest-json> <systemd-vm-exit-status>]]: prints the closing line, returns the exit status.
# The VM runs' tests (cgroup v2, then systemd) are added to the host's; a VM that did not boot, timed
# out or wrote no results counts as a failure.
summarize() {
  local json=$1 jest_rc=$2 leaks=$3 passed failed skipped total status rc=0
  local label vjson vrc p2 f2 s2 t2 st2
  read -r passed failed skipped total status <<<"$(counts "$json")"
  if [ "$status" = missing ]; then
    echo "run-all: jest wrote no results (exit status $jest_rc)" >&2
    rc=1
  fi
  if [ "$jest_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "run-all: jest exited with status $jest_rc although no test failed (globalSetup/globalTeardown?): counted as 1 failure" >&2
    failed=1
  fi
  for label in "cgroup-v2 VM" "systemd VM"; do
    vjson=${4:-} vrc=${5:-0}
    shift 2 2>/dev/null || set --
    [ -n "$vjson" ] || continue
    read -r p2 f2 s2 t2 st2 <<<"$(counts "$vjson")"
    if [ "$st2" = missing ]; then
      echo "run-all: the $label run wrote no results (exit status $vrc: 124 timeout, 125 VM failure): counted as 1 failure" >&2
      f2=1
    elif [ "$vrc" -ne 0 ] && [ "$f2" -eq 0 ]; then
      echo "run-all: the $label run exited with status $vrc although no test failed: counted as 1 failure" >&2
      f2=1
    fi
    echo "run-all: $label: $p2 passed, $f2 failed" >&2
    passed=$((passed + p2)) failed=$((failed + f2)) skipped=$((skipped + s2)) total=$((total + t2))
  done
  if [ "$leaks" -gt 0 ]; then
    echo "run-all: $leaks leftover(s) after the suite: counted as 1 failure" >&2
    failed=$((failed + 1))
  fi
  if [ "$total" -eq 0 ] || [ "$passed" -eq 0 ]; then
    echo "run-all: no test passed (total $total)" >&2
    rc=1
  fi
  if [ "$failed" -gt 0 ]; then rc=1; fi
  echo
  if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  return "$rc"
}

# `test/run-all.sh --summarize JSON [JEST_STATUS [LEAKS [V2JSON V2STATUS [SDJSON SDSTATUS]]]]`: only the
# closing line (to test it: test/unit/run-all-summary.test.ts).
if [ "${1:-}" = --summarize ]; then
  rc=0
  summarize "$2" "${3:-0}" "${4:-0}" "${5:-}" "${6:-0}" "${7:-}" "${8:-0}" || rc=$?
  exit "$rc"
fi
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
  echo "run-all: the test suite runs containers and must run as root" >&2
  exit 1
fi

step "Debian packages"
src/build/install-deps.sh --test

step "npm dependencies"
if [ ! -f package-lock.json ]; then
  npm install --no-audit --no-fund
elif [ -z "${CI:-}" ] && [ -f node_modules/.package-lock.json ] &&
  [ node_modules/.package-lock.json -nt package-lock.json ] &&
  [ node_modules/.package-lock.json -nt package.json ]; then
  echo "node_modules is up to date with package-lock.json" >&2
else
  npm ci --no-audit --no-fund
fi

step "build"
npm run build

step "bundles"
bundles/build-all.sh

tmp=$(mktemp -d /tmp/tsrun-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
json=$tmp/jest.json

step "tests (jest under tini -s)"
set +e
# --forceExit: a test that leaves a process or handle behind must not hang the run (and
# CI) until its time limit; what it left is reported by the leak check below.
tini -s -g -- npm test -- --forceExit --json --outputFile="$json"
jest_rc=$?
set -e

# cgroup v2: this host is hybrid, so the cgroup integration tests (test/integration/cgroup-*.test.ts)
# run again in a throwaway VM booted with a cgroup-v2-only kernel (test/v2vm/; one boot, a few
# minutes under QEMU's software CPU). Its results are added to the closing line.
step "cgroup v2 tests (in a VM)"
v2json=$repo/build/v2vm-jest.json
set +e
test/v2vm/cgroup-tests.sh "$v2json"
v2rc=$?
set -e

# systemd: the systemd cgroup driver's group (test/integration/systemd-*.test.ts: the runtimes with
# --systemd-cgroup, podman and containerd with systemd's cgroup manager) in the same VM booted with
# systemd as PID 1 (one boot, a few minutes). Its results are added to the closing line too.
step "systemd tests (in a VM booted with systemd)"
sdjson=$repo/build/v2vm-systemd-jest.json
set +e
test/v2vm/systemd-tests.sh "$sdjson"
sdrc=$?
set -e

step "leak check"
leaks=0
leak() {
  echo "LEAK: $*" >&2
  leaks=$((leaks + 1))
}
# Mount points with tsrun in their path, or under this repository (bundle rootfs).
while IFS= read -r line; do
  leak "mount: $line"
done < <(awk -v repo="$repo/" '$5 ~ /tsrun/ || index($5, repo) == 1 { print $5 " (" $9 ")" }' /proc/self/mountinfo)
# Cgroup directories of containers: anything below a `tsrun` directory (the default
# cgroup parent, /tsrun/<id>) or named *tsrun*; the empty parent itself is not a leak.
while IFS= read -r d; do
  leak "cgroup: $d"
done < <(find /sys/fs/cgroup -mindepth 2 -maxdepth 8 -type d -path '*tsrun*' ! -name tsrun 2>/dev/null)
# tsrun-init processes (a container's init waiting for `start`, or a stuck one).
while IFS= read -r p; do
  leak "process: $p"
done < <(for c in /proc/[0-9]*/comm; do
  comm=""
  { read -r comm <"$c"; } 2>/dev/null || true
  if [ "$comm" = tsrun-init ]; then
    c=${c%/comm}
    echo "pid ${c#/proc/}: $(tr '\0' ' ' <"$c/cmdline" 2>/dev/null)"
  fi
done)
# Users the rootless tests made (test/helpers/users.ts), their processes and subordinate id ranges.
while IFS= read -r u; do
  leak "user: $u ($(pgrep -c -U "$u" 2>/dev/null || echo 0) processes)"
done < <(awk -F: '$1 ~ /^tsrt/ { print $1 }' /etc/passwd)
while IFS= read -r l; do
  leak "subordinate ids: $l"
done < <(grep -H '^tsrt' /etc/subuid /etc/subgid 2>/dev/null || true)
if [ "$leaks" -eq 0 ]; then
  echo "no leftover mounts, cgroups, tsrun-init processes or test users" >&2
fi

rc=0
summarize "$json" "$jest_rc" "$leaks" "$v2json" "$v2rc" "$sdjson" "$sdrc" || rc=$?
exit "$rc"
