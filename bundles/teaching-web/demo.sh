#!/bin/sh
# The teaching script's web container, seen from the inside. Bound read-only at /demo.sh by config.json.
cg=/sys/fs/cgroup
if [ -f $cg/memory.max ]; then mem=$(cat $cg/memory.max); set -- $(cat $cg/cpu.max); quota=$1 period=$2
else mem=$(cat $cg/memory/memory.limit_in_bytes); quota=$(cat $cg/cpu/cpu.cfs_quota_us); period=$(cat $cg/cpu/cpu.cfs_period_us); fi
echo "hostname:     $(hostname)                 (a UTS namespace of its own)"
echo "memory limit: $((mem / 1048576)) MB                  (cgroup memory limit)"
echo "cpu limit:    $((quota * 100 / period)) %                  (cgroup CPU quota per period)"
echo "address:      $(ip -4 -o addr show eth0 | awk '{print $4}')     (veth on the host bridge)"
mkdir -p /www
echo "<h1>Hello from $(hostname)</h1>" >/www/index.html
echo "wrote /www/index.html: in the overlay's upper layer, not in the image directory"
httpd -f -p 80 -h /www &
echo "serving http://$(ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1)/ (Ctrl-C or tsrun kill to stop)"
trap 'kill $! 2>/dev/null; echo "stopped"; exit 0' INT TERM
wait
