#!/usr/bin/env bash
# test/v2vm/run.sh [--systemd] CMD [ARGS...]: boot a throwaway cgroup-v2-only VM (Debian kernel with
# cgroup_no_v1=all; the host's "/" over 9p read-only under a tmpfs overlay; the current directory
# shared read-write at the same path), run CMD there as root in the current directory with the
# caller's environment, and exit with CMD's status. Infrastructure failures are never a success:
# 125 = the VM did not boot or CMD's status never came back, 124 = timeout. Progress on stderr:
# "v2vm: command started after N s" and "v2vm: command exited with status S after N s" (guest uptime;
# a run that hangs without the first line hung at boot), and "v2vm init: root ready after N s" in the
# console log printed on a failure.
# Without --systemd, PID 1 is a shell that runs CMD and powers off (guest/stage2). With --systemd,
# PID 1 is the host's own systemd on the unified hierarchy, booted to v2vm.target (basic system,
# journald, dbus; the rest masked by guest/systemd-setup), where v2vm-command.service runs CMD and
# then powers off as `systemctl poweroff` does; CMD runs in /system.slice/v2vm-command.service with
# systemctl, busctl and systemd-run working (checked by systemd-check.sh). Costs ~6 s more per run
# (boot to the command ~9 s, power-off ~1.3 s, on an idle host; 20-25 s more when the CPU is shared).
# Knobs: V2VM_TIMEOUT seconds (default 900), V2VM_MEM MiB (default 1536), V2VM_SMP (default: host
# cores), V2VM_RW extra host dirs to share read-write, V2VM_DEBUG=1 prints the console log.
# TCG only (this machine's /dev/kvm cannot run a stock guest kernel); CPU model "max" by default:
# bin/tsrun (Bun) needs instructions that qemu64 lacks (Illegal instruction). V2VM_CPU overrides.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TSRUN_V2VM_CACHE:-/var/cache/tsrun-v2vm}
systemd=
[ "${1:-}" = --systemd ] && { systemd=1; shift; }
[ $# -ge 1 ] || { echo "usage: $0 [--systemd] CMD [ARGS...]" >&2; exit 2; }
initrd=$("$here/setup.sh") || { echo "v2vm: setup failed" >&2; exit 125; }

ctl=$(mktemp -d /tmp/tsrun-v2vm.XXXXXX) || exit 125
qpid=
cleanup() {
  if [ -n "$qpid" ]; then kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; fi
  rm -rf "$ctl"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command, as a script the host's bash runs in the guest: the environment, the directory, argv.
{
  echo '#!/bin/bash'
  export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|_|HOSTNAME|V2VM_[A-Z_]*)='
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  echo
} >"$ctl/cmd"

shares=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$cache/kernel/lib/modules,mount_tag=kmods,security_model=none,readonly=on"
  -virtfs "local,path=$ctl,mount_tag=ctl,security_model=none")
rw= i=0
for d in $PWD ${V2VM_RW:-}; do
  d=$(readlink -f "$d") || continue
  shares+=(-virtfs "local,path=$d,mount_tag=rw$i,security_model=none,multidevs=remap")
  rw+="rw$i=$d " i=$((i + 1))
done
printf 'V2VM_RW=%q\nV2VM_SYSTEMD=%q\n' "$rw" "$systemd" >"$ctl/config"

kernel=$cache/kernel/vmlinux
[ -s "$kernel" ] || kernel=$(ls "$cache"/kernel/boot/vmlinuz-*)

# The guest's stdout/stderr come over two virtio-serial ports into pipes to our own fds 1 and 2.
exec 3> >(exec cat) 4> >(exec cat >&2)
timeout -k 5 "${V2VM_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg,thread=multi -cpu "${V2VM_CPU:-max}" -M q35 \
  -nodefaults -no-user-config -display none -no-reboot -monitor none \
  -m "${V2VM_MEM:-1536}" -smp "${V2VM_SMP:-$(nproc)}" \
  -kernel "$kernel" -initrd "$initrd" \
  -append "console=ttyS0 quiet cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 panic=-1 rdinit=/init i8042.noaux i8042.nokbd i8042.nopnp clocksource=hpet no_timer_check" \
  -serial "file:$ctl/console.log" \
  -device virtio-rng-pci "${shares[@]}" -device virtio-serial-pci \
  -chardev "file,id=out,path=/proc/$$/fd/3" -device virtserialport,chardev=out,name=v2vm.stdout,nr=1 \
  -chardev "file,id=err,path=/proc/$$/fd/4" -device virtserialport,chardev=err,name=v2vm.stderr,nr=2 \
  </dev/null >"$ctl/qemu.log" 2>&1 3>&- 4>&- &
qpid=$!
wait "$qpid"
qrc=$? qpid=
exec 3>&- 4>&-
wait 2>/dev/null # the two cat processes: all output is through before we return

if [ -f "$ctl/rc" ]; then
  rc=$(cat "$ctl/rc")
elif [ "$qrc" = 124 ]; then
  rc=124
else
  rc=125
fi
if [ "$rc" = 124 ] || [ "$rc" = 125 ] || [ -n "${V2VM_DEBUG:-}" ]; then
  echo "v2vm: qemu status $qrc, command status $rc; console log:" >&2
  cat "$ctl/console.log" "$ctl/qemu.log" >&2
fi
exit "$rc"
