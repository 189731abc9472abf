#!/usr/bin/env bash
# Container lifecycle benchmark: tsrun (bin/tsrun of this repo) against runc and crun.
#
#   bench/lifecycle.sh [--runs N] [--runtimes "tsrun runc crun"] [--keep-json DIR]
#
# Needs root. Installs its packages (runc, crun, hyperfine, jq, tini) through
# src/build/install-deps.sh --test. A runtime that is missing, or that fails a smoke
# run of the bundle, is skipped with a note.
#
# The bundle: a copy of bundles/busybox (rootfs built by bundles/build-all.sh) with
# process.args ["/bin/true"], terminal false, made in a temp dir. Its ociVersion is
# set to 1.0.2 because crun 1.8 refuses "1.2.0" ("unknown version specified"); the
# same bundle is used by all three runtimes. Each runtime gets its own --root.
#
# What is measured (hyperfine --warmup 3 --runs N, medians; all commands are run
# without an intermediate shell, `hyperfine -N`):
#
#  1. run:       `R --root X run --bundle B id`. One command does create, start,
#                wait for exit and delete, so each runtime waits for the exit its own
#                best way (runc and crun wait on their child). This is the fairest
#                single number, and the one a person typing `run` sees.
#  2. lifecycle: `sh seq.sh R X B id` = create; start; poll `state` until "stopped";
#                delete (without --force). This is what a manager shelling out to the
#                runtime pays: four or more process starts. The waiting is done by
#                polling `state` back to back (no sleep): /bin/true exits within a
#                millisecond of `start`, so it is usually one `state` call, and each
#                poll costs one runtime start, which is the thing being compared.
#                (`delete --force` is not used as the "wait": it kills a process that
#                may not have exited yet, and runc's --force sleeps 100 ms.)
#                The `sh` start (~1 ms) is in all three figures alike.
#  3. state:     `R --root X state id` on a created (not started) container: how fast
#                a verb answers, i.e. the runtime's own start-up cost.
#
# The whole benchmark runs under `tini -s` (a child subreaper: this machine's PID 1 does
# not reap orphans, and container inits are orphaned when `create` returns) and in a
# private mount namespace (`unshare --mount`), so the mounts it makes are never seen
# by the rest of the host and vanish with it.
#
# crun 1.8 and hybrid cgroups: on a hybrid host (v1 controllers + a cgroup2 at
# /sys/fs/cgroup/unified) crun refuses to run while any controller is bound to the
# v2 hierarchy ("cgroups in hybrid mode not supported, drop all controllers from
# cgroupv2"). On this machine kind that is hugetlb, which nothing mounts as v1. The
# benchmark then mounts a v1 hierarchy of each such controller at /sys/fs/cgroup/<name>
# (the mount is in its private mount namespace; the empty directory, made on the host's
# /sys/fs/cgroup tmpfs when missing, is removed at exit). crun only needs the controller
# off v2; runc needs the hierarchy at that path, because it mounts each v1 hierarchy into
# the container under the basename of its host mount point. Binding a controller to v1
# moves it off v2 host-wide for the duration (the same conditions for all three runtimes).
# At exit it is unmounted; the kernel gives the controller back to v2 only when the v1
# hierarchy has no child cgroup at umount (a just-removed cgroup may still be dying),
# otherwise the hierarchy lingers unmounted. So the restore waits for /proc/cgroups to
# show the controller back on hierarchy 0, and if it does not, mounts the same hierarchy
# again, removes what is left in it and unmounts once more.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

runs=30
runtimes="tsrun runc crun"
keep_json=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --runtimes) runtimes=$2; shift 2 ;;
    --keep-json) keep_json=$2; shift 2 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "lifecycle: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$runs" in '' | *[!0-9]*) echo "lifecycle: --runs needs a number" >&2; exit 2 ;; esac

if [ "$(id -u)" -ne 0 ]; then
  echo "lifecycle: must run as root (containers, cgroups, mounts)" >&2
  exit 1
fi

# Re-exec once inside a private mount namespace, under a subreaper.
if [ "${TSRUN_BENCH_INNER:-}" != 1 ]; then
  "$repo/src/build/install-deps.sh" --test
  "$repo/bundles/build-all.sh"
  export TSRUN_BENCH_INNER=1
  exec unshare --mount --propagation private -- \
    tini -s -g -- bash "$0" --runs "$runs" --runtimes "$runtimes" ${keep_json:+--keep-json "$keep_json"}
fi

tmp=$(mktemp -d /tmp/tsrun-bench.XXXXXX)
bundle=$tmp/bundle
declare -A bin=()   # runtime name -> executable
active=()           # runtimes that passed the smoke run
prefix=lifecycle-$$-  # container ids (and so cgroup names) are unique to this run
ids=("${prefix}smoke" "${prefix}run" "${prefix}lifecycle" "${prefix}state")
v1_mounts=()        # "controller:mountpoint:created-dir(0|1)" mounted to move a controller off v2

note() { echo "lifecycle: $*" >&2; }

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

# delete --force <runtime> <id>, quietly. runc 1.1 can fail to rmdir the cgroups of a
# just-killed created container (its init is a zombie until the subreaper reaps it);
# the leftover cgroups are swept by sweep_cgroups.
delete_quiet() {
  timeout 20 "${bin[$1]}" --root "$tmp/root-$1" delete --force "$2" >/dev/null 2>&1 || true
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

cleanup() {
  local rc=$? rt id
  set +e
  for rt in "${!bin[@]}"; do
    for id in "${ids[@]}"; do
      delete_quiet "$rt" "$id"
    done
  done
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
    *) path=$(command -v "$rt" || true) ;;
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

# --- bundle --------------------------------------------------------------------
mkdir -p "$bundle"
cp -a "$repo/bundles/busybox/rootfs" "$bundle/rootfs"
jq '.ociVersion = "1.0.2" | .process.args = ["/bin/true"] | .process.terminal = false' \
  "$repo/bundles/busybox/config.json" >"$bundle/config.json"

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
for rt in tsrun runc crun; do
  [ -n "${bin[$rt]:-}" ] || continue
  if out=$(timeout 30 "${bin[$rt]}" --root "$tmp/root-$rt" run --bundle "$bundle" "${prefix}smoke" 2>&1 </dev/null); then
    active+=("$rt")
  else
    note "skipping $rt: 'run' of the bundle failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
    timeout 20 "${bin[$rt]}" --root "$tmp/root-$rt" delete --force "${prefix}smoke" >/dev/null 2>&1 || true
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

# hyperfine over all active runtimes; $1 = benchmark name, $2 = command template where
# @RT@, @ROOT@, @BUNDLE@, @ID@ are replaced; remaining: extra hyperfine args.
bench() {
  local name=$1 template=$2 rt cmd
  shift 2
  local args=()
  for rt in "${active[@]}"; do
    cmd=${template//@RT@/${bin[$rt]}}
    cmd=${cmd//@ROOT@/$tmp/root-$rt}
    cmd=${cmd//@BUNDLE@/$bundle}
    cmd=${cmd//@ID@/$prefix$name}
    args+=(-n "$rt" "$cmd")
  done
  echo
  echo "== $name"
  hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$tmp/$name.json" "$@" "${args[@]}"
}

bench run "@RT@ --root @ROOT@ run --bundle @BUNDLE@ @ID@"
bench lifecycle "sh $tmp/seq.sh @RT@ @ROOT@ @BUNDLE@ @ID@"

# state on a created container.
for rt in "${active[@]}"; do
  "${bin[$rt]}" --root "$tmp/root-$rt" create --bundle "$bundle" "${prefix}state" </dev/null >/dev/null
done
bench state "@RT@ --root @ROOT@ state @ID@"
for rt in "${active[@]}"; do
  delete_quiet "$rt" "${prefix}state"
done

if [ -n "$keep_json" ]; then
  mkdir -p "$keep_json"
  cp "$tmp"/run.json "$tmp"/lifecycle.json "$tmp"/state.json "$keep_json"/
fi

# --- summary -------------------------------------------------------------------
median_ms() { # <json> <runtime>
  jq -r --arg n "$2" '.results[] | select(.command == $n) | .median * 1000' "$1"
}
fmt() { if [ -n "$1" ]; then printf '%.2f' "$1"; else printf -- '-'; fi; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; else printf -- '-'; fi; }

echo
echo "Medians in ms, $runs runs each ($(uname -r), $(nproc) cores):"
printf '%-12s %9s %9s %9s %11s %11s\n' benchmark tsrun runc crun tsrun/runc tsrun/crun
for name in run lifecycle state; do
  t=""; r=""; c=""
  for rt in "${active[@]}"; do
    v=$(median_ms "$tmp/$name.json" "$rt")
    case "$rt" in tsrun) t=$v ;; runc) r=$v ;; crun) c=$v ;; esac
  done
  printf '%-12s %9s %9s %9s %11s %11s\n' "$name" "$(fmt "$t")" "$(fmt "$r")" "$(fmt "$c")" \
    "$(ratio "$t" "$r")" "$(ratio "$t" "$c")"
done
echo "run = create+start+wait+delete in one command; lifecycle = create, start, state until stopped, delete;"
echo "state = one 'state' call on a created container."
