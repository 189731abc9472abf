#!/usr/bin/env bash
# Soak: many full container lifecycles, then check that nothing accumulated.
#
#   bench/soak.sh [--cycles N] [--tsrun PATH]      (N: default $TSRUN_SOAK_CYCLES, else 2000)
#
# Needs root, a built bin/tsrun and the example bundles (npm run build; bundles/build-all.sh).
# Each container has overlay layers (bundles/layered's), a 64 MiB memory limit, a pids limit and a
# veth on a bridge. SAFETY: every tsrun call runs inside a network namespace made here (nsenter
# --net), so the bridge and veths never touch the host's network; only 10.79.0.0/16 is used.
# Cycles alternate between two lifecycles:
#   odd:  `run` in the foreground (create, start, wait for the exit, delete in one call), the
#         process writing into its overlay upper first;
#   even: create; start; state (must say running); delete --force of the running process.
# A long-lived container (the sentinel) stays up on the same bridge the whole time.
#
# Printed before and after (one line each, `key=value`), and compared; exit 1 if any differs or a
# lifecycle failed:
#   mounts    mount points in this mount namespace that mention the soak's directory or ids
#   cgroups   cgroup directories named after the soak's containers, in every hierarchy
#   links     network links in the soak's namespace (lo, the bridge, the sentinel's veth)
#   leases    address lease files under the state root
#   files     files and directories under the state root
#   procs     processes in the soak's containers' cgroups (the sentinel's: 1)
#   fds_self, fds_reaper, fds_sentinel   open fds of this script, of its subreaper (tini) and of
#             the sentinel's init: the processes that live through the whole soak
# Also printed, not compared (other users of the machine change them): host mount and link totals.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cycles=${TSRUN_SOAK_CYCLES:-2000}
tsrun=$repo/bin/tsrun
while [ "$#" -gt 0 ]; do
  case "$1" in
    --cycles) cycles=$2; shift 2 ;;
    --tsrun) tsrun=$2; shift 2 ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$cycles" in '' | *[!0-9]*) echo "soak: --cycles needs a number" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then echo "soak: must run as root" >&2; exit 1; fi
for f in "$tsrun" "$repo/bundles/layered/layers/base/bin/busybox"; do
  [ -e "$f" ] || { echo "soak: $f missing (npm run build; bundles/build-all.sh)" >&2; exit 1; }
done

# Under a child subreaper (container inits are orphaned when create returns; this machine's PID 1
# does not reap them).
if [ "${TSRUN_SOAK_INNER:-}" != 1 ]; then
  export TSRUN_SOAK_INNER=1
  exec tini -s -g -- bash "$0" --cycles "$cycles" --tsrun "$tsrun"
fi

tmp=$(mktemp -d /tmp/tsrun-soak.XXXXXX)
root=$tmp/state
ns=tsrun-soak-$$
prefix=soak$$-
sentinel=${prefix}sentinel
ip netns add "$ns"

t() { nsenter --net="/run/netns/$ns" -- "$tsrun" --root "$root" "$@"; }

cleanup() {
  local rc=$?
  set +e
  t delete --force "$sentinel" >/dev/null 2>&1
  for s in $(t list -q 2>/dev/null); do t delete --force "$s" >/dev/null 2>&1; done
  ip netns del "$ns" 2>/dev/null
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bundle() { # <dir> <script>: layered bundle with memory and pids limits and a veth
  mkdir -p "$1/rootfs"
  node - "$repo" "$1" "$2" <<'EOF'
const fs = require("node:fs");
const [repo, out, script] = process.argv.slice(2);
const c = JSON.parse(fs.readFileSync(`${repo}/bundles/busybox/config.json`, "utf8"));
c.root = { path: "rootfs", readonly: false };
c.process.args = ["sh", "-c", script];
c.process.terminal = false;
c.linux.resources = { ...(c.linux.resources ?? {}), memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 64 } };
c.tsrun = {
  layers: [`${repo}/bundles/layered/layers/base`, `${repo}/bundles/layered/layers/app`],
  network: { bridge: "tssoak0", subnet: "10.79.0.0/16", gateway: "10.79.0.1", interfaces: [{ name: "eth0" }] },
};
fs.writeFileSync(`${out}/config.json`, JSON.stringify(c));
EOF
}
bundle "$tmp/run" 'echo soak > /upper-file && ip -o addr show eth0 | grep -q "inet 10.79."'
bundle "$tmp/long" 'exec sleep 100000'

counts() {
  local mounts cgroups links leases files procs fds_self fds_reaper fds_sentinel spid reaper
  mounts=$(grep -c -e "$tmp" -e "$prefix" /proc/self/mountinfo || true)
  cgroups=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name "${prefix}*" 2>/dev/null | wc -l)
  links=$(ip -n "$ns" -o link show | wc -l)
  leases=$({ find "$root/@ipam" -type f ! -name 'lock*' 2>/dev/null || true; } | wc -l)
  files=$(find "$root" 2>/dev/null | wc -l)
  procs=$(find /sys/fs/cgroup/pids -mindepth 2 -maxdepth 6 -type d -name "${prefix}*" -exec cat {}/cgroup.procs \; 2>/dev/null | wc -l)
  spid=$(t state "$sentinel" | sed -n 's/^ *"pid": *\([0-9]*\).*/\1/p')
  reaper=$(awk '{ print $4 }' /proc/$$/stat)
  fds_self=$(ls /proc/$$/fd | wc -l)
  fds_reaper=$(ls "/proc/$reaper/fd" | wc -l)
  fds_sentinel=$(ls "/proc/$spid/fd" | wc -l)
  echo "mounts=$mounts cgroups=$cgroups links=$links leases=$leases files=$files procs=$procs fds_self=$fds_self fds_reaper=$fds_reaper fds_sentinel=$fds_sentinel"
}
host_totals() {
  echo "host (not compared): mounts=$(wc -l </proc/self/mountinfo) links=$(ip -o link show | wc -l) netns=$(ip netns list | wc -l)"
}

t run --detach --bundle "$tmp/long" "$sentinel" </dev/null >/dev/null
before=$(counts)
echo "before: $before"
host_totals

failures=0
fail() { failures=$((failures + 1)); echo "soak: cycle $i: $*" >&2; }
start_s=$SECONDS
for i in $(seq 1 "$cycles"); do
  id=$prefix$i
  if [ $((i % 2)) -eq 1 ]; then
    t run --bundle "$tmp/run" "$id" </dev/null >/dev/null 2>"$tmp/err" || fail "run: $(cat "$tmp/err")"
  else
    t create --bundle "$tmp/long" "$id" </dev/null >/dev/null 2>"$tmp/err" || fail "create: $(cat "$tmp/err")"
    t start "$id" 2>"$tmp/err" || fail "start: $(cat "$tmp/err")"
    t state "$id" 2>"$tmp/err" | grep -q '"status": "running"' || fail "state is not running: $(cat "$tmp/err")"
    t delete --force "$id" 2>"$tmp/err" || fail "delete --force: $(cat "$tmp/err")"
  fi
  if [ -e "$root/$id" ]; then fail "state dir left"; t delete --force "$id" >/dev/null 2>&1 || true; fi
  if [ $((i % 500)) -eq 0 ]; then echo "soak: $i cycles, $((SECONDS - start_s)) s: $(counts)"; fi
done
elapsed=$((SECONDS - start_s))
after=$(counts)
echo "after:  $after"
host_totals
echo "soak: $cycles lifecycles in $elapsed s, $failures failed"
if [ "$before" != "$after" ] || [ "$failures" -ne 0 ]; then
  echo "soak: FAILED (counts differ or lifecycles failed)" >&2
  exit 1
fi
echo "soak: counts are back to where they started"
