#!/bin/sh
# CLONE_NEWUSER: root in here is an unprivileged uid outside.
echo "user namespace: inside, $(id)"
awk '{print "  uid " $1 "-" $1 + $3 - 1 " inside is uid " $2 "-" $2 + $3 - 1 " outside"}' /proc/self/uid_map
sleep "${HOLD:-0}"
