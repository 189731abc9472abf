#!/bin/sh
# The demo bundle's process (config.json: args ["/bin/sh", "/demo.sh"]).
# bundles/build-all.sh copies this file to rootfs/demo.sh.
# It runs inside the container and shows, from the inside, what the runtime set up.

echo "Hello from inside a container started by an OCI runtime."
echo
echo "pid: $$"
echo "  This shell is PID 1: it has a PID namespace of its own."
echo "hostname: $(hostname)"
echo "  From config.json \"hostname\", in a UTS namespace of its own."
echo "user: $(id)"
echo
echo "Processes it can see (only its own; the host's are invisible):"
/bin/ps   # by path: busybox sh would otherwise show it as "{ps} /bin/sh /demo.sh"
echo
nmounts=$(wc -l </proc/self/mounts)
echo "Mounts it can see: $nmounts (from /proc/self/mounts; the root is read-only):"
awk '{ split($4, o, ","); printf "  %-22s %-8s %s\n", $2, $3, o[1] }' /proc/self/mounts
echo
echo "Network interfaces (a network namespace of its own): $(cd /sys/class/net && echo *)"
echo
echo "Done: exiting with status 0; the container is now \"stopped\"."
exit 0
