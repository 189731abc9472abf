#!/bin/sh
# The inner container, started by tsrun inside the outer one.
echo "inner: pid $$, $(id), user namespace map: $(cat /proc/self/uid_map | tr -s ' ')"
echo "inner: $(grep NStgid /proc/$$/status) (its own PID namespace: it sees only itself)"
exec sleep 1000
