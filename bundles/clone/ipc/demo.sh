#!/bin/sh
# CLONE_NEWIPC: IPC objects (System V and POSIX message queues) are private to the container.
touch /dev/mqueue/tsrun-demo-queue
echo "IPC namespace: POSIX message queues here: $(ls /dev/mqueue); the host has none of them"
cat /dev/mqueue/tsrun-demo-queue
sleep "${HOLD:-0}"
