#!/bin/sh
# bundles/consh/setup.sh [-c CGROUP] [-h HOSTNAME] LOWER DIR
#
# The talk's consh_setup.sh, as a bundle: run it as the user who will run the container. It writes
# DIR/config.json from this directory's config.json for the caller (root inside mapped to the caller's
# uid and gid), with LOWER (a busybox tree, e.g. a copy of bundles/busybox/rootfs) as the overlay's lower
# layer, and DIR/rootfs, the empty directory the overlay is mounted on. The overlay's upper layer is
# made by tsrun in the container's state directory.
#   -c CGROUP    the container's cgroup (linux.cgroupsPath), limited to 50% of a CPU (cpu.max
#                "5000 10000", the talk's); it must be in a cgroup v2 subtree delegated to you (README).
#                Without -c: no cgroup path and no limit, as the talk without -c.
#   -h HOSTNAME  the container's hostname (default tekapo, the talk's)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
usage() {
  echo "usage: $0 [-c CGROUP] [-h HOSTNAME] LOWER DIR" >&2
  exit 2
}
cgroup= host=tekapo
while getopts c:h: opt; do
  case $opt in
  c) cgroup=$OPTARG ;;
  h) host=$OPTARG ;;
  *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || usage
[ -d "$1" ] || { echo "$0: $1: no such directory (the lower layer)" >&2; exit 1; }
lower=$(cd "$1" && pwd)
dir=$2
# The values go into sed replacements and JSON strings as they are.
for v in "$lower" "$dir" "$cgroup" "$host" "$here"; do
  case $v in *[\|\&\\\"]*) echo "$0: $v: | & \\ and \" are not supported here" >&2; exit 1 ;; esac
done
mkdir -p "$dir/rootfs"
uid=$(id -u) gid=$(id -g)
if [ -n "$cgroup" ]; then
  keep_cgroup="s|\"cgroupsPath\": \"[^\"]*\"|\"cgroupsPath\": \"$cgroup\"|"
else
  keep_cgroup='/"cgroupsPath":/d; /"resources":/d'
fi
sed -e "/\"uidMappings\"/,/]/ s|\"hostID\": [0-9]*|\"hostID\": $uid|" \
  -e "/\"gidMappings\"/,/]/ s|\"hostID\": [0-9]*|\"hostID\": $gid|" \
  -e "s|\"layers\": \[\"lower\"\]|\"layers\": [\"$lower\"]|" \
  -e "s|\"source\": \"demo.sh\"|\"source\": \"$here/demo.sh\"|" \
  -e "s|\"hostname\": \"tekapo\"|\"hostname\": \"$host\"|" \
  -e "$keep_cgroup" \
  "$here/config.json" >"$dir/config.json.tmp"
mv "$dir/config.json.tmp" "$dir/config.json"
echo "consh: bundle $dir (root inside = uid $uid gid $gid outside, lower layer $lower${cgroup:+, cgroup $cgroup with cpu.max 5000 10000})"
