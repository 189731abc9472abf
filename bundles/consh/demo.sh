#!/bin/sh
# The consh container from the inside: what the talk's demo shows (bundles/consh/README.md).
# BURN=N: burn CPU for N seconds, printing %CPU each second from the container's own cpu.stat (the
# talk's cpu_burner). HOLD=N: then sleep N seconds. Otherwise an interactive shell (PS1 "bbsh# ").

# A file private to this container: it lands in the overlay's upper layer.
{
  echo "Created at: $(date)"
  echo "Creator UID: $(awk '{print $2}' /proc/self/uid_map)"
  echo "Creator PID: $$"
} >/MANIFEST

echo "shell pid:   $$"
echo "processes:   $(ps -o pid,comm | awk 'NR > 1 {printf "%s:%s ", $1, $2}')"
echo "identity:    $(id)"
echo "uid map:     $(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
echo "hostname:    $(hostname)"
echo "cgroup:      $(grep '^0::' /proc/1/cgroup)"
echo "cpu.max:     $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo none)"
echo "capabilities: $(grep CapEff /proc/self/status | awk '{print $2}')"
echo "mounts:      $(awk '$2 ~ /^\/(dev|dev\/mqueue|proc|sys|sys\/fs\/cgroup)?$/ {printf "%s=%s ", $2, $3}' /proc/self/mounts)"
echo "devices:     $(for d in full null random tty urandom zero; do stat -c "$d=%t:%T" /dev/$d; done | tr '\n' ' ')"
echo "manifest:    $(cat /MANIFEST | tr '\n' ';')"

if [ -n "${BURN:-}" ]; then
  # usage_usec of the container's own cgroup (its cgroup namespace's root) against /proc/uptime.
  usage() { awk '$1 == "usage_usec" {print $2}' /sys/fs/cgroup/cpu.stat; }
  now() { awk '{split($1, t, "."); print t[1] * 100 + t[2]}' /proc/uptime; }
  n=0
  while [ "$n" -lt "$BURN" ]; do
    u0=$(usage) t0=$(now)
    while [ $(($(now) - t0)) -lt 100 ]; do i=0; while [ $i -lt 2000 ]; do i=$((i + 1)); done; done
    u1=$(usage) t1=$(now)
    echo "[$$] %CPU = $(((u1 - u0) / (t1 - t0) / 100))"
    n=$((n + 1))
  done
fi
if [ -n "${HOLD:-}" ]; then exec sleep "$HOLD"; fi
[ -n "${BURN:-}" ] || exec /bin/sh
