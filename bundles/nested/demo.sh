#!/bin/sh
# The outer container: it runs tsrun (bound read-only at /tsrun) to start an inner container.
echo "outer: pid $$ in its PID namespace, $(id)"
echo "outer: cgroup $(sed -n 's/^0:://p' /proc/self/cgroup) (its own cgroup namespace)"
mkdir -p /run/inner-root
/tsrun/tsrun --root /run/tsrun run -d --bundle /inner inner >/run/inner.out 2>&1 || { cat /run/inner.out; exit 1; }
pid=$(/tsrun/tsrun --root /run/tsrun state inner | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
while ! grep -q "inner:" /run/inner.out; do sleep 0.1; done
cat /run/inner.out
echo "outer: the inner init is pid $pid here; $(grep NStgid /proc/$pid/status)"
echo "outer: the inner init's cgroup, seen from here: $(sed -n 's/^4:memory://p' /proc/$pid/cgroup)"
sleep "${HOLD:-0}"
/tsrun/tsrun --root /run/tsrun delete --force inner
echo "outer: inner deleted"
