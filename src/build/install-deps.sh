#!/usr/bin/env bash
# Installs the Debian packages tsrun needs, idempotently.
#
#   src/build/install-deps.sh          build + run: busybox-static iproute2 gcc libc6-dev make tini uidmap
#   src/build/install-deps.sh --test   the above + runc crun hyperfine jq strace python3 (differential tests, bench,
#                                      the reliability suite, the terminal tests) + podman conmon containerd (issue 7)
#                                      + dbus-daemon (the D-Bus client's tests) + criu (checkpoint/restore)
#                                      + containernetworking-plugins (the CRI tests' pod network)
#
# Does nothing (and prints nothing) when every package is already installed.
# Otherwise runs `apt-get update` once, then installs only the missing packages.
# Works without a TTY; must be run as root.
set -euo pipefail

usage() {
  echo "usage: $0 [--test]" >&2
  exit 2
}

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    -h | --help) usage ;;
    *) echo "install-deps: unknown argument: $arg" >&2; usage ;;
  esac
done

# busybox-static: the demo/test rootfs; iproute2: `ip` for network setup and tests;
# gcc libc6-dev make: static build of tsrun-init; tini: child subreaper for the test suite;
# uidmap: newuidmap/newgidmap, which write the multi-range id maps of rootless containers (the
# subordinate ranges of /etc/subuid, /etc/subgid), for tsrun and for rootless podman.
packages=(busybox-static iproute2 gcc libc6-dev make tini uidmap)
if [ "$want_test" = 1 ]; then
  # runc: differential tests; crun, hyperfine: bench/; jq: reading JSON in scripts;
  # strace: the reliability suite checks that waits use a pidfd, not sleeps (rel-wait.test.ts).
  # python3: test/helpers/terminal-peer.py (receives SCM_RIGHTS and drives a pty for the terminal tests).
  packages+=(runc crun hyperfine jq strace python3)
  # podman (with conmon and the CNI plugins it depends on) and containerd (with ctr and the runc v2
  # shim): tsrun plugged in under the managers (test/integration/podman.test.ts, containerd.test.ts).
  packages+=(podman conmon containerd)
  # dbus-daemon: a private bus for tsrun's own D-Bus client's tests (test/integration/dbus-client.test.ts).
  packages+=(dbus-daemon)
  # containernetworking-plugins: the bridge, host-local and loopback CNI plugins of the CRI tests' pods
  # (test/integration/cri.test.ts; podman pulls it in too, but the CRI tests name it themselves).
  packages+=(containernetworking-plugins)
  # criu: checkpoint/restore (test/integration/criu.test.ts; `criu check` passes in the cgroup-v2 VM).
  packages+=(criu)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}" >&2
  echo "install-deps: installing them needs root: run 'sudo $0 $*' (or apt-get install ${missing[*]})" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: apt-get not found; install these packages by hand: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)

echo "install-deps: installing ${missing[*]}" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! apt-get "${apt_opts[@]}" update >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get update failed" >&2
  exit 1
fi
if ! apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: apt-get install failed: ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: done" >&2
