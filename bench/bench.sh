#!/usr/bin/env bash
# The figures of issue 20 for tsrun (bin/tsrun of this repo), runc and crun, side by side, from one
# command, with each target and whether it is met:
#
#   bench/bench.sh [--runs N] [--quick] [--list N] [--burst N] [--runtimes "tsrun runc crun"] [--no-podman]
#                  [--keep-raw DIR] [--base DIR] [--out DIR]
#
# Prints a table (medians, min-max, the floor, ratios tsrun/runc and tsrun/crun, the issue's target per
# row, the figure the target judges, met or not), then one line per target, and writes
# bench/results/latest.json (with date, machine, kernel, cpu, load, runs), latest.md (the table in
# markdown; a full run also puts it in README.md) and latest.svg (lifecycle latency, held memory, one
# CLI call per verb beside the floor).
# --runs N: rounds per time figure (default 30, as the issue's anchors; warmup 3).
# --quick: 5 rounds, 1 warmup, 30 containers for `list`, fewer memory/throughput samples: for
# development, not for the record (its report goes to bench/results/scratch/quick/, not in git).
# --list N: containers present for `list` and `state` at scale (default 1000, --quick 30).
# --burst N: creates started at once (default 20).
# --base DIR: also measure DIR/bin/tsrun (a built checkout of an earlier commit, e.g. a git worktree)
# as the runtime "base", in the same run: the table gains a tsrun/base column, so a change is
# compared with what it changed under the same load.
# --out DIR: write the report there instead (never README.md): a full run on a machine that is not
# quiet, kept apart from the recorded one.
# Takes about 10-15 minutes at default settings on 2 cores (most of it creating and deleting 3 x 1,000
# containers); --quick about 3.
#
# Needs root. Installs its packages (runc, crun, hyperfine, jq, tini, podman, conmon) through
# src/build/install-deps.sh --test. A runtime that is missing, or that fails a smoke run of the
# bundle, is skipped with a note.
#
# The floor: an empty program (`console.log("")`) compiled by the same Bun with the same flags as
# bin/tsrun (`node src/build/build.mjs --floor`), built by each run. What any Bun CLI pays per call;
# the issue's verb targets are ratios to it.
#
# The bundle: a copy of bundles/busybox (rootfs built by bundles/build-all.sh: new pid, network, ipc,
# uts, mount and cgroup namespaces) with process.args ["/bin/true"], terminal false, in a temp dir,
# and a second one running `sleep 3600` (for delete --force of a running container). ociVersion is
# 1.0.2 because crun 1.8 refuses "1.2.0"; all three runtimes use the same bundles. Each runtime gets
# its own --root; container ids carry this run's pid, so nothing collides with other users.
#
# How times are taken: bench/measure.py alternate. Each round runs every runtime's command once (and
# the floor's, for the single verbs), in an order that rotates from round to round, each after its
# own untimed set-up; the time is fork to reaped, taken by bench/peak-rss.c (a small static program)
# with the peak RSS of the call. A load that comes and goes on a shared machine hits all runtimes
# alike, so the ratios of one run hold even when absolute times drift (hyperfine would run all of one
# command's runs, then the next's).
#  lifecycle    `sh seq.sh` = create; start; poll `state` until "stopped"; delete (no --force).
#               What a manager shelling out to the runtime pays: 4+ process starts. Polling is back
#               to back (/bin/true is gone within a millisecond of start: usually one `state`). The
#               `sh` start is in all three figures alike.
#  run          `run --bundle B id`: create, start, wait, delete in one call.
#  state        on a created container; beside the floor.
#  kill         `kill id KILL` on a created container (set-up: create); beside the floor.
#  start        `start id` on a created container (set-up: create); beside the floor.
#  delete       `delete id` of a stopped container (set-up: create, start, wait for "stopped"); beside the floor.
#  deleteForce  `delete --force id` of a running `sleep 3600` (set-up: create, start).
#  list         `list` with --list N created containers of each runtime present (all at once).
#  stateMany    `state` of one of them, with the N present.
#  burst*       bench/measure.py burst: --burst N creates started at once on the 2 cores, 3 rounds
#               (--quick: 1) of each runtime in turn: creates per second and the p50 / p95 of the
#               creates' latencies.
#  podman       `podman --runtime R run --rm --network none IMG
#               true` with a private podman set-up (containers.conf, storage under the temp dir,
#               cgroupfs manager; image imported from the busybox rootfs). --network none: the
#               runtime is measured, not CNI; podman's default seccomp profile for all three (hyperfine).
#  heldRss/Pss  bench/measure.py held: 10 containers created (--quick: 3), then RSS and PSS
#               (smaps_rollup) of every process each leaves while waiting for `start` (tsrun-init;
#               `runc init`; crun's own waiting child) plus any other process that appeared under
#               our subreaper, per container.
#  peakRss*     ru_maxrss from wait4 of one `state` call (from the state rounds, beside the floor's)
#               and of one `create` (bench/measure.py peak-rss), forked from bench/peak-rss.c (see
#               why there). Target: at most the floor's peak + 4 MiB.
#  rate         bench/measure.py rate: 2 workers each doing lifecycles (seq.sh) back to back;
#               lifecycles per second, 5 repetitions of 15 per worker (--quick: 2 of 5).
#
# The whole benchmark runs under `tini -s` (a child subreaper: this machine's PID 1 does not reap
# orphans, and container inits are orphaned when `create` returns) and in a private mount namespace
# (`unshare --mount`), so the mounts it makes are never seen by the rest of the host and vanish with
# it. At exit every container of every runtime is deleted, podman's containers and storage removed,
# and cgroups named after this run's ids swept.
#
# crun 1.8 and hybrid cgroups: on a hybrid host (v1 controllers + a cgroup2 at
# /sys/fs/cgroup/unified) crun refuses to run while any controller is bound to the v2 hierarchy
# ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"). On this machine kind
# that is hugetlb, which nothing mounts as v1. The benchmark then mounts a v1 hierarchy of each such
# controller at /sys/fs/cgroup/<name> (in its private mount namespace; the empty directory, made on
# the host's /sys/fs/cgroup tmpfs when missing, is removed at exit). crun only needs the controller
# off v2; runc needs the hierarchy at that path, because it mounts each v1 hierarchy into the
# container under the basename of its host mount point. Binding a controller to v1 moves it off v2
# host-wide for the duration (the same conditions for all three runtimes). At exit it is unmounted;
# the kernel gives the controller back to v2 only when the v1 hierarchy has no child cgroup at umount
# (a just-removed cgroup may still be dying), otherwise the hierarchy lingers unmounted. So the
# restore waits for /proc/cgroups to show the controller back on hierarchy 0, and if it does not,
# mounts the same hierarchy again, removes what is left in it and unmounts once more.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
orig_args=("$@")

runs=30
warmup=3
quick=0
list_count=""
burst_count=20
out_dir=""
runtimes="tsrun runc crun"
podman_on=1
keep_raw=""
base_dir=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --runtimes) runtimes=$2; shift 2 ;;
    --no-podman) podman_on=0; shift ;;
    --keep-raw) keep_raw=$2; shift 2 ;;
    --base) base_dir=$2; shift 2 ;;
    --list) list_count=$2; shift 2 ;;
    --burst) burst_count=$2; shift 2 ;;
    --out) out_dir=$2; shift 2 ;;
    -h | --help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $1" >&2; exit 2 ;;
  esac
done
held_count=10 rate_iter=15 rate_reps=5 peak_runs=10 burst_reps=3 list_default=1000
if [ "$quick" = 1 ]; then
  # --runs given with --quick wins.
  case " ${orig_args[*]} " in *" --runs "*) ;; *) runs=5 ;; esac
  warmup=1 list_default=30 held_count=3 rate_iter=5 rate_reps=2 peak_runs=3 burst_reps=1
fi
list_count=${list_count:-$list_default}
# list at scale: fewer rounds (each `list` of 1,000 containers reads 1,000 state files).
list_runs=$((runs < 10 ? runs : 10))
case "$list_count$burst_count" in *[!0-9]*) echo "bench: --list and --burst need numbers" >&2; exit 2 ;; esac
if [ -n "$out_dir" ]; then mkdir -p "$out_dir" && out_dir=$(cd "$out_dir" && pwd); fi
if [ -n "$base_dir" ]; then
  base_dir=$(cd "$base_dir" && pwd) || { echo "bench: --base: no such directory" >&2; exit 2; }
  [ -x "$base_dir/bin/tsrun" ] || { echo "bench: --base: $base_dir/bin/tsrun not found (build that checkout first)" >&2; exit 2; }
  runtimes="$runtimes base"
fi
case "$runs" in '' | *[!0-9]* | 0) echo "bench: --runs needs a positive number" >&2; exit 2 ;; esac

if [ "$(id -u)" -ne 0 ]; then
  echo "bench: must run as root (containers, cgroups, mounts)" >&2
  exit 1
fi

# Re-exec once inside a private mount namespace, under a subreaper.
if [ "${TSRUN_BENCH_INNER:-}" != 1 ]; then
  "$repo/src/build/install-deps.sh" --test
  "$repo/bundles/build-all.sh" >/dev/null
  export TSRUN_BENCH_INNER=1
  exec unshare --mount --propagation private -- tini -s -g -- bash ${TSRUN_BENCH_TRACE:+-x} "$0" "${orig_args[@]}"
fi
subreaper=$PPID # tini: container inits are re-parented to it

tmp=$(mktemp -d /tmp/tsrun-bench.XXXXXX)
raw=$tmp/raw
mkdir -p "$raw"
bundle=$tmp/bundle        # /bin/true
sleeper=$tmp/bundle-sleep # sleep 3600
declare -A bin=()         # runtime name -> executable
active=()                 # runtimes that passed the smoke run
prefix=bench-$$-          # container ids (and so cgroup names) are unique to this run
v1_mounts=()              # "controller:mountpoint:created-dir(0|1)" mounted to move a controller off v2
pm_ready=0
load_start=$(cut -d' ' -f1 /proc/loadavg)

note() { echo "bench: $*" >&2; }

# What the machine is, for the report: virtualisation (when systemd-detect-virt knows) and memory.
machine() {
  local virt
  virt=$(systemd-detect-virt 2>/dev/null || true)
  echo "$(hostname)${virt:+ ($virt)}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
}

cgroup_hierarchy() { # <controller>: its hierarchy id in /proc/cgroups (0 = cgroup v2)
  awk -v c="$1" '$1 == c { print $2 }' /proc/cgroups
}

restore_controllers() {
  local entry ctrl mp created hier="" _ _w
  for entry in "${v1_mounts[@]}"; do
    IFS=: read -r ctrl mp created <<<"$entry"
    for _ in 1 2 3 4 5; do
      if mountpoint -q "$mp"; then
        # A child cgroup keeps the v1 hierarchy alive after umount: remove them first.
        find "$mp" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
        umount "$mp" 2>/dev/null || true
      fi
      # An unmounted childless hierarchy is destroyed asynchronously: wait for it.
      for _w in $(seq 1 60); do
        hier=$(cgroup_hierarchy "$ctrl")
        [ "$hier" = 0 ] && break
        sleep 0.05
      done
      [ "$hier" = 0 ] && break
      # Not destroyed: a (dying) child was still there at umount. Mount the same
      # hierarchy again, let the child go, and unmount once more.
      mount -t cgroup -o "$ctrl" cgroup "$mp" 2>/dev/null || true
      sleep 0.5
    done
    if mountpoint -q "$mp"; then umount "$mp" 2>/dev/null || true; fi
    if [ "$created" = 1 ]; then rmdir "$mp" 2>/dev/null || true; fi
    if [ "$hier" != 0 ]; then
      note "WARNING: cgroup controller $ctrl is still on v1 hierarchy $hier, not back on cgroup v2"
    fi
  done
  v1_mounts=()
}

# delete --force every container of this run that runtime <rt> still knows (its --root is ours),
# 4 at a time. runc 1.1 can fail to rmdir the cgroups of a just-killed created container (its init
# is a zombie until the subreaper reaps it); leftover cgroups are swept by sweep_cgroups.
delete_all() {
  local rt=$1 root=$tmp/root-$1
  [ -d "$root" ] || return 0
  find "$root" -mindepth 1 -maxdepth 1 -name "${prefix}*" -printf '%f\n' |
    xargs -r -P 4 -I{} timeout 20 "${bin[$rt]}" --root "$root" delete --force {} >/dev/null 2>&1 || true
}

# Remove cgroup directories named after this run's containers (deepest first), if any.
sweep_cgroups() {
  local d left=()
  while IFS= read -r d; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      rmdir "$d" 2>/dev/null && break
      sleep 0.1
    done
    [ -d "$d" ] && left+=("$d")
  done < <(find /sys/fs/cgroup -mindepth 2 -depth -type d -name "${prefix}*" 2>/dev/null)
  if [ "${#left[@]}" -gt 0 ]; then
    note "WARNING: cgroups left behind: ${left[*]}"
  fi
}

# podman in a private world: its own containers.conf, storage and tmp under $tmp/podman.
pm_dir=$tmp/podman
pm_image=localhost/tsrun-bench:latest
# podman's default seccomp profile applies to all three runtimes alike.
pm_run_opts=(--rm --network none)
pm() { env CONTAINERS_CONF="$pm_dir/containers.conf" CONTAINERS_STORAGE_CONF="$pm_dir/storage.conf" podman "$@"; }

podman_cleanup() {
  local mp h p
  pm rm -a -f -t 0 >/dev/null 2>&1 || true
  pm rmi -a -f >/dev/null 2>&1 || true
  # Storage mounts (overlay, shm) are in our private mount namespace; unmount them before rm -rf.
  while IFS= read -r mp; do umount -l "$mp" 2>/dev/null || true; done < <(awk -v d="$pm_dir" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  # podman's cgroupfs parent (and conmon's cgroup in it) is shared with any other podman user:
  # removed only when empty.
  for h in /sys/fs/cgroup/*/libpod_parent; do
    [ -d "$h" ] || continue
    for p in "$h"/libpod-*; do [ -d "$p" ] && rmdir "$p" 2>/dev/null; done
    rmdir "$h/conmon" "$h" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$? rt
  set +e
  [ "$pm_ready" = 1 ] && podman_cleanup
  for rt in "${!bin[@]}"; do delete_all "$rt"; done
  sweep_cgroups
  restore_controllers
  rm -rf --one-file-system "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- runtimes ------------------------------------------------------------------
for rt in $runtimes; do
  case "$rt" in
    tsrun) path="${TSRUN:-$repo/bin/tsrun}"; [ -x "$path" ] || path="" ;;
    runc | crun) path=$(command -v "$rt" || true) ;;
    base) path="$base_dir/bin/tsrun" ;;
    *) note "unknown runtime $rt (tsrun, runc, crun; base with --base)"; exit 2 ;;
  esac
  if [ -z "$path" ]; then
    if [ "$rt" = tsrun ]; then
      note "skipping tsrun: ${TSRUN:-$repo/bin/tsrun} not found (run 'npm run build' first)"
    else
      note "skipping $rt: not installed"
    fi
    continue
  fi
  bin[$rt]=$path
  mkdir -p "$tmp/root-$rt"
done

# --- bundles -------------------------------------------------------------------
mkdir -p "$bundle" "$sleeper"
cp -a "$repo/bundles/busybox/rootfs" "$bundle/rootfs"
jq '.ociVersion = "1.0.2" | .process.args = ["/bin/true"] | .process.terminal = false' \
  "$repo/bundles/busybox/config.json" >"$bundle/config.json"
cp -a "$bundle/rootfs" "$sleeper/rootfs" # runc refuses a symlinked rootfs
jq '.process.args = ["/bin/sleep", "3600"]' "$bundle/config.json" >"$sleeper/config.json"

# --- crun on a hybrid cgroup host ----------------------------------------------
# (cgroup files report size 0: read them, never test -s.)
v2_controllers=""
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
  v2_controllers=$(cat /sys/fs/cgroup/unified/cgroup.controllers)
fi
if [ -n "${bin[crun]:-}" ] && [ -n "$v2_controllers" ]; then
  for ctrl in $v2_controllers; do
    # runc mounts each v1 hierarchy into the container under the basename of its host
    # mount point, so the hierarchy must be at /sys/fs/cgroup/<controller>.
    mp=/sys/fs/cgroup/$ctrl
    created=0
    if [ ! -e "$mp" ]; then mkdir "$mp" && created=1; fi
    if mountpoint -q "$mp"; then continue; fi
    if mount -t cgroup -o "$ctrl" cgroup "$mp"; then
      v1_mounts+=("$ctrl:$mp:$created")
      note "hybrid cgroups: moved controller '$ctrl' from cgroup v2 to a v1 hierarchy at $mp for crun (restored at exit)"
    else
      if [ "$created" = 1 ]; then rmdir "$mp"; fi
      note "could not mount a v1 '$ctrl' hierarchy; crun will probably refuse to run"
    fi
  done
fi

# --- smoke run: a runtime that cannot run the bundle is skipped ----------------
for rt in tsrun runc crun base; do
  [ -n "${bin[$rt]:-}" ] || continue
  if out=$(timeout 30 "${bin[$rt]}" --root "$tmp/root-$rt" run --bundle "$bundle" "${prefix}smoke" 2>&1 </dev/null); then
    active+=("$rt")
  else
    note "skipping $rt: 'run' of the bundle failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
    delete_all "$rt"
  fi
done
if [ "${#active[@]}" -eq 0 ]; then
  note "no runtime to benchmark"
  exit 1
fi

cat >"$tmp/seq.sh" <<'EOF'
# create; start; wait for "stopped" by polling state; delete.  $1=runtime $2=root $3=bundle $4=id
set -e
"$1" --root "$2" create --bundle "$3" "$4" </dev/null >/dev/null
"$1" --root "$2" start "$4"
n=0
until "$1" --root "$2" state "$4" | grep -q '"status": *"stopped"'; do
  n=$((n + 1))
  if [ "$n" -gt 5000 ]; then echo "seq.sh: $4 never stopped" >&2; exit 1; fi
done
"$1" --root "$2" delete "$4"
EOF

cat >"$tmp/prep.sh" <<'EOF'
# Per-run set-up: remove what the previous run left, then make the container the measured command
# needs.  $1=created|running|stopped $2=runtime $3=root $4=bundle $5=id
set -e
"$2" --root "$3" delete --force "$5" >/dev/null 2>&1 || true
"$2" --root "$3" create --bundle "$4" "$5" </dev/null >/dev/null
[ "$1" = created ] && exit 0
"$2" --root "$3" start "$5"
[ "$1" = running ] && exit 0
n=0
until "$2" --root "$3" state "$5" | grep -q '"status": *"stopped"'; do
  n=$((n + 1))
  if [ "$n" -gt 5000 ]; then echo "prep.sh: $5 never stopped" >&2; exit 1; fi
done
EOF

# Replace @RT@, @ROOT@, @BUNDLE@, @SLEEPER@, @ID@ in a template for runtime $1, figure $2.
fill() {
  local t=$3
  t=${t//@RT@/${bin[$1]}}
  t=${t//@ROOT@/$tmp/root-$1}
  t=${t//@BUNDLE@/$bundle}
  t=${t//@SLEEPER@/$sleeper}
  t=${t//@ID@/$prefix$2}
  printf '%s' "$t"
}

# hyperfine over all active runtimes: <figure> <command template> [<prepare template>]
bench() {
  local name=$1 template=$2 prepare=${3:-} rt
  local args=()
  for rt in "${active[@]}"; do
    [ -n "$prepare" ] && args+=(--prepare "$(fill "$rt" "$name" "$prepare")")
    args+=(-n "$rt" "$(fill "$rt" "$name" "$template")")
  done
  echo "== $name ($(date +%T))" >&2
  # hyperfine's warnings (outliers, slow first run) are expected on a loaded machine: shown on failure only.
  if ! hyperfine -N --style none --warmup "$warmup" --runs "$runs" --export-json "$raw/$name.json" "${args[@]}" >"$tmp/hyperfine.log" 2>&1; then
    cat "$tmp/hyperfine.log" >&2
    note "hyperfine failed on $name"
    exit 1
  fi
}

# bench/measure.py <timeout in s> <command> args...: its failure (or a hang) ends the bench.
measure() {
  local t=$1
  shift
  if ! timeout "$t" python3 "$here/measure.py" "$@"; then
    note "measure.py $1 failed or timed out after ${t}s"
    exit 1
  fi
}

# The floor: an empty program built by the same Bun with bin/tsrun's flags (before the page cache is
# dropped, below, so that it is read back from disk like the others).
echo "== building the floor (an empty Bun-compiled program)" >&2
mkdir -p "$tmp/floor-build"
node "$repo/src/build/build.mjs" --floor "$tmp/floor-build/floor" >/dev/null
floor=$tmp/floor-build/floor
gcc -static -O2 -Wall -Wextra -Werror -o "$tmp/peak-rss" "$here/peak-rss.c"

# Every runtime's executable from disk, the same way: a binary just written (a fresh build) sits in the
# page cache in large folios, and mapping those counts whole folios as RSS (seen: an empty `tsrun
# --version` peaking at 29.5 MiB when just built, 24 MiB once read back from disk).
sync
echo 3 >/proc/sys/vm/drop_caches || note "could not drop the page cache: peak RSS may be off for a fresh build"
echo "bench: ${active[*]}; $runs rounds per time figure; load average $load_start on $(nproc) cores" >&2

# alternate <figure> <runs> <with floor: 0|1> <command template> [<prepare template>]: one round = every
# active runtime once (and the floor), rotating order; raw/<figure>.alt.json.
alternate() {
  local name=$1 n=$2 with_floor=$3 template=$4 prepare=${5:-} rt
  local args=()
  [ "$with_floor" = 1 ] && args+=(--case floor "" "$floor")
  for rt in "${active[@]}"; do
    args+=(--case "$rt" "$([ -n "$prepare" ] && fill "$rt" "$name" "$prepare")" "$(fill "$rt" "$name" "$template")")
  done
  echo "== $name ($(date +%T), load $(cut -d' ' -f1 /proc/loadavg))" >&2
  measure 3600 alternate --runs "$n" --warmup "$warmup" --helper "$tmp/peak-rss" "${args[@]}" >"$raw/$name.alt.json"
}

alternate lifecycle "$runs" 0 "sh $tmp/seq.sh @RT@ @ROOT@ @BUNDLE@ @ID@"
alternate run "$runs" 0 "@RT@ --root @ROOT@ run --bundle @BUNDLE@ @ID@"

# state (and its peak RSS) on a created container, beside the floor.
for rt in "${active[@]}"; do
  "${bin[$rt]}" --root "$tmp/root-$rt" create --bundle "$bundle" "${prefix}state" </dev/null >/dev/null
done
alternate state "$runs" 1 "@RT@ --root @ROOT@ state @ID@"
echo "== peak RSS of create" >&2
for rt in "${active[@]}"; do
  r=$tmp/root-$rt
  measure 300 peak-rss --runs "$peak_runs" --helper "$tmp/peak-rss" --after "${bin[$rt]} --root $r delete --force ${prefix}peak{n}" \
    -- "${bin[$rt]}" --root "$r" create --bundle "$bundle" "${prefix}peak{n}" >"$raw/peakRssCreate.$rt.json"
done

alternate kill "$runs" 1 "@RT@ --root @ROOT@ kill @ID@ KILL" "sh $tmp/prep.sh created @RT@ @ROOT@ @BUNDLE@ @ID@"
alternate start "$runs" 1 "@RT@ --root @ROOT@ start @ID@" "sh $tmp/prep.sh created @RT@ @ROOT@ @BUNDLE@ @ID@"
alternate delete "$runs" 1 "@RT@ --root @ROOT@ delete @ID@" "sh $tmp/prep.sh stopped @RT@ @ROOT@ @BUNDLE@ @ID@"
alternate deleteForce "$runs" 0 "@RT@ --root @ROOT@ delete --force @ID@" "sh $tmp/prep.sh running @RT@ @ROOT@ @SLEEPER@ @ID@"
for rt in "${active[@]}"; do delete_all "$rt"; done

# Memory held while containers wait for start (all of one runtime's at once), then deleted.
echo "== memory held per created container ($held_count containers)" >&2
for rt in "${active[@]}"; do
  r=$tmp/root-$rt
  measure 120 held --subreaper "$subreaper" --count "$held_count" --prefix "${prefix}held-" \
    --create "${bin[$rt]} --root $r create --bundle $bundle {id}" --state "${bin[$rt]} --root $r state {id}" >"$raw/held.$rt.json"
  delete_all "$rt"
done

# Bursts: burst_count creates at once, each runtime in turn (rotating), deleted after each round.
echo "== $burst_count parallel creates ($(date +%T))" >&2
burst_args=()
for rt in "${active[@]}"; do
  r=$tmp/root-$rt
  burst_args+=(--case "$rt" "${bin[$rt]} --root $r create --bundle $bundle {id}" "${bin[$rt]} --root $r delete --force {id}")
done
measure 1800 burst --count "$burst_count" --reps "$burst_reps" --helper "$tmp/peak-rss" --prefix "${prefix}burst-" "${burst_args[@]}" >"$raw/burst.json"
for rt in "${active[@]}"; do delete_all "$rt"; done

# list and state with list_count created containers per runtime (all runtimes' at once: same conditions).
echo "== list and state with $list_count containers ($(date +%T))" >&2
for rt in "${active[@]}"; do
  seq 1 "$list_count" | xargs -P 2 -I{} sh -c '"$1" --root "$2" create --bundle "$3" "$4{}" </dev/null >/dev/null' _ \
    "${bin[$rt]}" "$tmp/root-$rt" "$bundle" "${prefix}list-"
  n=$("${bin[$rt]}" --root "$tmp/root-$rt" list | grep -c " created ") || true
  if [ "$n" != "$list_count" ]; then
    note "$rt list shows $n created containers, not $list_count"
    exit 1
  fi
done
alternate list "$list_runs" 0 "@RT@ --root @ROOT@ list"
alternate stateMany "$runs" 0 "@RT@ --root @ROOT@ state ${prefix}list-1"
echo "== deleting $list_count containers per runtime ($(date +%T))" >&2
for rt in "${active[@]}"; do delete_all "$rt"; done

echo "== lifecycles per second, 2 workers" >&2
for rt in "${active[@]}"; do
  measure 600 rate --workers 2 --iterations "$rate_iter" --reps "$rate_reps" \
    -- sh "$tmp/seq.sh" "${bin[$rt]}" "$tmp/root-$rt" "$bundle" "${prefix}rate-{id}" >"$raw/rate.$rt.json"
  delete_all "$rt" # what a failed lifecycle left
done

# --- podman ----------------------------------------------------------------------
if [ "$podman_on" = 1 ] && command -v podman >/dev/null && command -v conmon >/dev/null; then
  echo "== podman run --rm" >&2
  mkdir -p "$pm_dir"
  cat >"$pm_dir/containers.conf" <<EOF
[containers]
# nofile: this machine's hard limit is 20000 and nothing may raise it.
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[network]
network_backend = "cni"
network_config_dir = "$pm_dir/net"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$pm_dir/events.log"
tmp_dir = "$pm_dir/tmp"
volume_path = "$pm_dir/volumes"
runtime_supports_json = ["crun", "runc", "tsrun"]
EOF
  printf '[storage]\ndriver = "overlay"\nrunroot = "%s/run"\ngraphroot = "%s/graph"\n' "$pm_dir" "$pm_dir" >"$pm_dir/storage.conf"
  mkdir -p "$pm_dir/net"
  pm_ready=1
  tar -C "$bundle/rootfs" -c . | pm import - "$pm_image" >/dev/null
  pm_active=()
  for rt in "${active[@]}"; do
    if out=$(timeout 60 env CONTAINERS_CONF="$pm_dir/containers.conf" CONTAINERS_STORAGE_CONF="$pm_dir/storage.conf" \
      podman --runtime "${bin[$rt]}" run "${pm_run_opts[@]}" "$pm_image" true 2>&1); then
      pm_active+=("$rt")
    else
      note "podman with $rt failed, not measured: $(echo "$out" | tail -n 2 | tr '\n' ' ')"
    fi
  done
  if [ "${#pm_active[@]}" -gt 0 ]; then
    saved=("${active[@]}")
    active=("${pm_active[@]}")
    bench podman "env CONTAINERS_CONF=$pm_dir/containers.conf CONTAINERS_STORAGE_CONF=$pm_dir/storage.conf podman --runtime @RT@ run ${pm_run_opts[*]} $pm_image true"
    active=("${saved[@]}")
  fi
fi

# --- report ------------------------------------------------------------------------
versions=$(for rt in "${active[@]}"; do
  case "$rt" in
    tsrun) v="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet HEAD -- src 2>/dev/null || echo +dirty)" ;;
    base) v="$(git -C "$base_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$base_dir" diff --quiet HEAD -- src 2>/dev/null || echo +dirty)" ;;
    *) v=$("${bin[$rt]}" --version | head -n 1) ;;
  esac
  jq -n --arg k "$rt" --arg v "$v" '{($k): $v}'
done | jq -s 'add')
jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson runs "$runs" --argjson warmup "$warmup" \
  --argjson quick "$([ "$quick" = 1 ] && echo true || echo false)" --arg load "$load_start" \
  --argjson versions "$versions" --argjson list "$list_count" --argjson held "$held_count" \
  --argjson rateIter "$rate_iter" --argjson rateReps "$rate_reps" --argjson peakRuns "$peak_runs" \
  --argjson burst "$burst_count" --argjson burstReps "$burst_reps" --argjson listRuns "$list_runs" \
  --arg machine "$(machine)" --arg bun "$("$repo/node_modules/@oven/bun-linux-x64/bin/bun" --version 2>/dev/null || echo unknown)" \
  '{date: $date, runs: $runs, warmup: $warmup, quick: $quick, loadStart: $load, versions: ($versions + {bun: $bun}), machine: $machine,
    settings: {listContainers: $list, listRuns: $listRuns, heldContainers: $held, rateWorkers: 2, rateIterationsPerWorker: $rateIter,
               rateRepetitions: $rateReps, peakRssRuns: $peakRuns, burstCreates: $burst, burstRepetitions: $burstReps},
    note: "machine shared with other jobs: see loadavg; ratios within one run hold, absolute times drift"}' >"$raw/meta.json"
if [ -n "$keep_raw" ]; then
  mkdir -p "$keep_raw"
  cp "$raw"/*.json "$keep_raw"/
fi
# A --quick run is for development: its report goes to the scratch dir, never over the recorded one.
results=$here/results
[ "$quick" = 1 ] && results=$here/results/scratch/quick
[ -n "$out_dir" ] && results=$out_dir
node "$here/make-report.mjs" "$raw" "$results"
