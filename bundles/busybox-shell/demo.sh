#!/bin/sh
# The hand-made busybox shell container, from the inside (see README.md for the set-up outside).
echo "shell pid:   $$ (PID 1 of a PID namespace of its own)"
echo "identity:    $(id)"
awk '{print "uid map:     " $1 "-" $1 + $3 - 1 " inside = " $2 "-" $2 + $3 - 1 " outside"}' /proc/self/uid_map
echo "cgroup:      $(sed 's/^/  /' /proc/self/cgroup | tr '\n' ' ')(a cgroup namespace: the path is /)"
echo "cpu limit:   $(cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo "cpu.max absent: cgroup v1 host, quota set in the cpu controller")"
echo "mounts:      $(awk '$2 ~ /^\/(proc|sys|sys\/fs\/cgroup|dev\/mqueue)?$/ {printf "%s=%s ", $2, $3}' /proc/self/mounts)"
echo "devices:     $(ls /dev | tr '\n' ' ')"
if [ -e /sys/class/net/eth0 ]; then
  ip addr add 10.80.0.2/24 dev eth0 && ip link set eth0 up
  echo "network:     eth0 $(ip -4 -o addr show eth0 | awk '{print $4}'), nc server on port 7000"
  nc -ll -p 7000 -e /bin/echo "hello from the busybox shell container" &
else
  echo "network:     no eth0 yet (README: move a veth in between create and start)"
fi
if [ -n "$HOLD" ]; then sleep "$HOLD"; else exec /bin/sh; fi
