#!/usr/bin/env bash
# Where tsrun's time goes: the raw material of bench/results/breakdown.md.
#
#   bench/breakdown.sh [--reps N] [OUT_DIR]      (default: 10 reps, bench/results/scratch/breakdown)
#
# Collects, for tsrun (and crun/runc where a comparison helps), into OUT_DIR:
#   startup.json      hyperfine: bin/tsrun --version, a Bun-compiled empty program (same build flags),
#                     tsrun-init with no arguments (a static C exec), crun/runc --version
#   sizes.txt         executable sizes, the Bun runtime's size, the bundled JS (minified) size
#   strace-c-<verb>.txt       strace -c -f of state, create, start, kill, delete, run, list (tsrun, crun;
#                             create: without tsrun-init, see -b execve below)
#   strace-r-<verb>.txt       strace -f -ttt -T timelines (tsrun) of the same verbs
#   run-trace.N, run-steps.md  5 traces of `run` stopping only on a few syscalls (--seccomp-bpf),
#                     and the median duration of each step (bench/run-steps.py)
#   debug-create.txt  N x `tsrun --debug create` step timings (the create steps print their time)
#   debug-steps.txt   median of each step over the N creates
# Same environment as bench/bench.sh: root, private mount namespace, tini -s, a private --root, the
# /bin/true bundle. crun is only used when its hybrid-cgroup condition holds (bench.sh handles it;
# this script does not move controllers: crun runs that fail are just left out).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
reps=10
out=$here/results/scratch/breakdown
while [ "$#" -gt 0 ]; do
  case "$1" in
    --reps) reps=$2; shift 2 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) out=$1; shift ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then echo "breakdown: must run as root" >&2; exit 1; fi
if [ "${TSRUN_BENCH_INNER:-}" != 1 ]; then
  "$repo/src/build/install-deps.sh" --test
  command -v strace >/dev/null || { echo "breakdown: needs strace" >&2; exit 1; }
  export TSRUN_BENCH_INNER=1
  exec unshare --mount --propagation private -- tini -s -g -- bash "$0" --reps "$reps" "$out"
fi

T=${TSRUN:-$repo/bin/tsrun}
tmp=$(mktemp -d /tmp/tsrun-breakdown.XXXXXX)
root=$tmp/root
bundle=$tmp/bundle
id=bd-$$
mkdir -p "$out" "$bundle"
cleanup() {
  set +e
  for d in "$root"/*/; do [ -d "$d" ] && "$T" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1; done
  for d in "$tmp"/croot/*/; do [ -d "$d" ] && crun --root "$tmp/croot" delete --force "$(basename "$d")" >/dev/null 2>&1; done
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp -a "$repo/bundles/busybox/rootfs" "$bundle/rootfs"
jq '.ociVersion = "1.0.2" | .process.args = ["/bin/true"] | .process.terminal = false' \
  "$repo/bundles/busybox/config.json" >"$bundle/config.json"

echo "breakdown: load $(cut -d' ' -f1-3 /proc/loadavg), $reps reps -> $out" >&2

# --- start-up floor -------------------------------------------------------------
echo 'process.exit(0);' >"$tmp/empty.ts"
"$repo/node_modules/@oven/bun-linux-x64/bin/bun" build --compile --minify --bytecode --target=bun-linux-x64 \
  "$tmp/empty.ts" --outfile "$tmp/bun-empty" >/dev/null 2>&1
"$repo/node_modules/@oven/bun-linux-x64/bin/bun" build --minify --target=bun "$repo/src/cli/tsrun.ts" \
  --outfile "$tmp/tsrun-bundle.js" >/dev/null 2>&1
{
  echo "bin/tsrun                $(stat -c %s "$T") bytes"
  echo "bin/tsrun-init           $(stat -c %s "$repo/bin/tsrun-init") bytes"
  echo "bun runtime (npm)        $(stat -c %s "$repo/node_modules/@oven/bun-linux-x64/bin/bun") bytes"
  echo "bun-compiled empty.ts    $(stat -c %s "$tmp/bun-empty") bytes"
  echo "tsrun JS bundle (minified, not compiled) $(stat -c %s "$tmp/tsrun-bundle.js") bytes"
  echo "crun                     $(stat -c %s "$(command -v crun)") bytes"
  echo "runc                     $(stat -c %s "$(command -v runc)") bytes"
} >"$out/sizes.txt"
hyperfine -N --style none --warmup 5 --runs $((reps * 3)) --export-json "$out/startup.json" \
  -n "tsrun --version" "$T --version" \
  -n "bun-compiled empty program" "$tmp/bun-empty" \
  -n "tsrun-init (static C, usage error)" "sh -c '$repo/bin/tsrun-init >/dev/null 2>&1; exit 0'" \
  -n "sh -c exit" "sh -c 'exit 0'" \
  -n "crun --version" "crun --version" \
  -n "runc --version" "runc --version" >/dev/null 2>&1

# --- strace -c and timelines per verb --------------------------------------------
st() { # <name> <strace args...> -- <command...>
  local name=$1
  shift
  strace "$@" >/dev/null 2>"$out/$name.txt" || true
}
"$T" --root "$root" create --bundle "$bundle" "$id-s" </dev/null
for mode in c r; do
  flags=(-f -c -S time)
  [ "$mode" = r ] && flags=(-f -ttt -T -s 80)
  st "strace-$mode-state" "${flags[@]}" -- "$T" --root "$root" state "$id-s"
  st "strace-$mode-list" "${flags[@]}" -- "$T" --root "$root" list
  # -b execve: stop following tsrun-init at its exec, or strace waits for the created container to
  # exit (it waits for start). tsrun-init's own syscalls are in the `run` traces.
  st "strace-$mode-create" "${flags[@]}" -b execve -- "$T" --root "$root" create --bundle "$bundle" "$id-$mode" </dev/null
  st "strace-$mode-start" "${flags[@]}" -- "$T" --root "$root" start "$id-$mode"
  for _ in $(seq 1 200); do "$T" --root "$root" state "$id-$mode" | grep -q '"stopped"' && break; done
  st "strace-$mode-delete" "${flags[@]}" -- "$T" --root "$root" delete "$id-$mode"
  "$T" --root "$root" create --bundle "$bundle" "$id-k$mode" </dev/null
  st "strace-$mode-kill" "${flags[@]}" -- "$T" --root "$root" kill "$id-k$mode" KILL
  "$T" --root "$root" delete --force "$id-k$mode"
  st "strace-$mode-run" "${flags[@]}" -- "$T" --root "$root" run --bundle "$bundle" "$id-run$mode" </dev/null
done
"$T" --root "$root" delete --force "$id-s"
# crun for comparison (syscall counts only).
if crun --root "$tmp/croot" run --bundle "$bundle" "$id-smoke" </dev/null >/dev/null 2>&1; then
  crun --root "$tmp/croot" create --bundle "$bundle" "$id-cs" </dev/null
  st strace-c-crun-state -f -c -S time -- crun --root "$tmp/croot" state "$id-cs"
  crun --root "$tmp/croot" delete --force "$id-cs"
  st strace-c-crun-run -f -c -S time -- crun --root "$tmp/croot" run --bundle "$bundle" "$id-cr" </dev/null
fi

# --- the steps of `run`, from low-overhead traces (only a few syscalls stop the process) ---------
for i in $(seq 1 5); do
  strace --seccomp-bpf -f -ttt -T -s 40 -o "$out/run-trace.$i" \
    -e trace=execve,vfork,clone,clone3,pivot_root,umount2,write,exit_group,wait4,mkdir,rmdir \
    "$T" --root "$root" run --bundle "$bundle" "$id-rt$i" </dev/null
done
python3 "$here/run-steps.py" "$out/run-trace.*" >"$out/run-steps.md"

# --- create's own step timings ----------------------------------------------------
: >"$out/debug-create.txt"
for i in $(seq 1 "$reps"); do
  "$T" --debug --root "$root" create --bundle "$bundle" "$id-d$i" </dev/null 2>>"$out/debug-create.txt"
  "$T" --root "$root" delete --force "$id-d$i"
done
# "create ID: <step> done at X ms" (and "... at X ms" lines) -> median per step, in order of appearance.
python3 - "$out/debug-create.txt" >"$out/debug-steps.txt" <<'PY'
import re, statistics, sys
steps = {}
for line in open(sys.argv[1]):
    m = re.match(r"tsrun: debug: create [^:]*: (.*) at ([0-9.]+) ms$", line.strip())
    if m:
        steps.setdefault(re.sub(r"init \d+", "init", m.group(1)), []).append(float(m.group(2)))
prev = 0.0
for name, v in steps.items():
    med = statistics.median(v)
    print(f"{name:<45} at {med:7.2f} ms (median; min {min(v):.2f}, max {max(v):.2f}, n {len(v)}); step {med - prev:6.2f} ms")
    prev = med
PY
echo "breakdown: done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
