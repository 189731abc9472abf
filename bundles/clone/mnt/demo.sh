#!/bin/sh
# CLONE_NEWNS: a mount made here is in the container's mount table only.
mount -t tmpfs -o size=1m tsrun-demo-private /mnt
echo "secret" >/mnt/private-file
echo "mount namespace: a tmpfs on /mnt, holding $(ls /mnt); the host cannot see it:"
grep ' /mnt ' /proc/self/mountinfo
sleep "${HOLD:-0}"
