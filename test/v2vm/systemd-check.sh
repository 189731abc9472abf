#!/usr/bin/env bash
# test/v2vm/systemd-check.sh: assert that this machine is what the systemd cgroup driver needs, as
# `bash test/v2vm/run.sh --systemd bash test/v2vm/systemd-check.sh` boots it: systemd as PID 1 on the
# unified cgroup hierarchy, the boot finished (running, or degraded with the failed units listed), the
# system bus up with systemd on it, and transient scopes and services getting their own cgroup under
# system.slice with the limits they were given. Prints each check; exits 1 if any failed.
set -uo pipefail
failed=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failed=1; }
# expect WHAT WANTED GOT
expect() { if [ "$3" = "$2" ]; then ok "$1 = $2"; else fail "$1 = '$3', wanted '$2'"; fi; }

scope=v2vm-check-$$-scope service=v2vm-check-$$-service
cleanup() { systemctl stop "$scope.scope" "$service.service" 2>/dev/null; }
trap cleanup EXIT

expect "PID 1 (/proc/1/comm)" systemd "$(cat /proc/1/comm)"
[ "$failed" = 0 ] || { echo "systemd-check: PID 1 is not systemd: nothing else to check"; exit 1; }
expect "/sys/fs/cgroup filesystem" cgroup2fs "$(stat -fc %T /sys/fs/cgroup)"
expect "controllers on a cgroup v1 hierarchy (/proc/cgroups)" 0 "$(awk 'NR > 1 && $2 != 0 && $4 == 1' /proc/cgroups | wc -l)"
expect "PID 1's cgroup" 0::/init.scope "$(cat /proc/1/cgroup)"

# --wait returns when the boot job queue is empty (a boot that never ends fails here, not the VM's timeout).
state=$(timeout 300 systemctl is-system-running --wait)
case $state in
  running) ok "systemctl is-system-running: running" ;;
  degraded)
    ok "systemctl is-system-running: degraded; failed units:"
    systemctl --failed --no-pager --no-legend
    ;;
  *) fail "systemctl is-system-running: '$state'" ;;
esac
echo "boot: $(systemd-analyze time 2>&1 | head -n1 | sed 's/ *$//'); uptime now $(cut -d' ' -f1 /proc/uptime)s"

version=$(systemctl show -p Version --value)
[ -n "$version" ] && ok "systemctl show -p Version: $version" || fail "systemctl show -p Version printed nothing"
expect "dbus.service" active "$(systemctl is-active dbus.service)"
expect "systemd's version over the system bus (busctl get-property)" "s \"$version\"" \
  "$(busctl get-property org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager Version 2>&1)"
expect "owner of org.freedesktop.systemd1 is PID 1 (busctl status)" 1 \
  "$(busctl status org.freedesktop.systemd1 2>&1 | sed -n 's/^PID=//p')"

# The literal call the driver's tests will make, then the same scope kept alive to look at.
if systemd-run --quiet --scope -p MemoryMax=64M sleep 1; then
  ok "systemd-run --scope -p MemoryMax=64M sleep 1: exit 0"
else
  fail "systemd-run --scope -p MemoryMax=64M sleep 1: exit $?"
fi
systemd-run --quiet --scope --unit="$scope" -p MemoryMax=64M sleep 300 &
pid=$!
for _ in $(seq 100); do
  [ "$(systemctl is-active "$scope.scope" 2>/dev/null)" = active ] && break
  sleep 0.2
done
expect "transient $scope.scope" active "$(systemctl is-active "$scope.scope")"
dir=/sys/fs/cgroup/system.slice/$scope.scope
expect "its ControlGroup" "${dir#/sys/fs/cgroup}" "$(systemctl show -p ControlGroup --value "$scope.scope")"
if [ -d "$dir" ]; then
  expect "its memory.max" 67108864 "$(cat "$dir/memory.max" 2>&1)"
  expect "its cgroup.procs (the command's PID)" "$pid" "$(cat "$dir/cgroup.procs" 2>&1)"
  systemctl stop "$scope.scope"
  wait "$pid"
  expect "exit status of the scope's command after systemctl stop (SIGTERM)" 143 $?
  [ ! -e "$dir" ] && ok "after systemctl stop, its cgroup is removed" || fail "$dir left behind"
else
  fail "$dir missing"
  kill "$pid" 2>/dev/null
fi

if systemd-run --quiet --unit="$service" -p MemoryMax=32M -p TasksMax=10 sleep 300; then
  ok "systemd-run --unit=$service -p MemoryMax=32M -p TasksMax=10 sleep 300: started"
else
  fail "systemd-run --unit=$service: exit $?"
fi
dir=/sys/fs/cgroup/system.slice/$service.service
if [ -d "$dir" ]; then
  ok "$dir exists"
  expect "its memory.max" 33554432 "$(cat "$dir/memory.max" 2>&1)"
  expect "its pids.max" 10 "$(cat "$dir/pids.max" 2>&1)"
  expect "its cgroup.procs (MainPID)" "$(systemctl show -p MainPID --value "$service.service")" "$(cat "$dir/cgroup.procs" 2>&1)"
  systemctl stop "$service.service"
  [ ! -e "$dir" ] && ok "after systemctl stop, its cgroup is removed" || fail "$dir left behind"
else
  fail "$dir missing"
fi

[ "$failed" = 0 ] && echo "systemd-check: all checks passed" || echo "systemd-check: some checks FAILED"
exit "$failed"
