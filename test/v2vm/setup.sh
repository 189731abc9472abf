#!/usr/bin/env bash
# test/v2vm/setup.sh: prepare the cgroup-v2 test VM (idempotent; each step is skipped when done).
#  - Debian packages: qemu-system-x86, cpio, kmod, xz-utils, file, busybox-static
#  - a Debian kernel, unpacked (never installed) into the cache, with its module tree indexed
#  - an uncompressed vmlinux beside it (QEMU boots it through PVH, seconds faster under TCG)
#  - an initramfs: busybox, the guest scripts and units (guest/) and the virtio/9p/overlay modules;
#    its path is printed on stdout
# Cache: $TSRUN_V2VM_CACHE (default /var/cache/tsrun-v2vm), outside the repository.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TSRUN_V2VM_CACHE:-/var/cache/tsrun-v2vm}
mkdir -p "$cache"
cd "$cache"

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || need+=(kmod)
command -v xz >/dev/null || need+=(xz-utils)
command -v file >/dev/null || need+=(file)
# busybox-static: the initramfs needs a static busybox with switch_root.
{ [ -x /bin/busybox ] && /bin/busybox --list | grep -qx switch_root; } || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi

if [ ! -f kernel/.done ]; then
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  [ -n "$pkg" ] || { echo "v2vm setup: no linux-image package for linux-image-amd64" >&2; exit 1; }
  rm -rf kernel dl && mkdir dl
  (cd dl && apt-get download "$pkg" >&2)
  dpkg-deb -x dl/"$pkg"_*.deb kernel
  rm -rf dl kernel/usr/share/doc
  depmod -b kernel "$(ls kernel/lib/modules)"
  touch kernel/.done
fi
kv=$(ls kernel/lib/modules)

if [ ! -s kernel/vmlinux ]; then
  # The bzImage payload is compressed: find its magic, decompress from there, keep the first ELF.
  vmlinuz=kernel/boot/vmlinuz-$kv
  for fmt in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
    for off in $(LC_ALL=C grep -obUaP "${fmt#*:}" "$vmlinuz" | cut -d: -f1); do
      tail -c +$((off + 1)) "$vmlinuz" | "${fmt%%:*}" -dc >kernel/vmlinux.tmp 2>/dev/null || true
      if file -b kernel/vmlinux.tmp | grep -q '^ELF 64'; then mv kernel/vmlinux.tmp kernel/vmlinux; break 2; fi
    done
  done
  rm -f kernel/vmlinux.tmp
  [ -s kernel/vmlinux ] || echo "v2vm setup: no vmlinux extracted; the compressed kernel will boot (slower)" >&2
fi

# One initramfs per content of guest/, named by its hash: worktrees whose guest scripts differ share
# the cache without rebuilding each other's image under a booting VM. Unused ones go after a week.
stamp=$(cat "$here"/guest/* | sha256sum | cut -c1-16)
initrd=$cache/initramfs-$stamp.cpio.gz
if [ ! -s "$initrd" ]; then
  d=$(mktemp -d "$cache/initramfs.XXXXXX")
  trap 'rm -rf "$d" "$d.cpio.gz"' EXIT
  mkdir -p "$d"/{bin,proc,sys,dev,lib/modules}
  cp /bin/busybox "$d/bin/busybox"
  cp "$here"/guest/* "$d/" && chmod 755 "$d/init"
  for m in $(cat "$here"/guest/modules); do
    f=$(find "kernel/lib/modules/$kv" -name "$m.ko*" | head -n1)
    [ -n "$f" ] || { echo "v2vm setup: module $m not found" >&2; exit 1; }
    case $f in *.xz) xz -dc "$f" ;; *.zst) zstd -dc "$f" ;; *) cat "$f" ;; esac >"$d/lib/modules/$m.ko"
  done
  (cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) >"$d.cpio.gz"
  mv "$d.cpio.gz" "$initrd"
fi
touch "$initrd"
find "$cache" -maxdepth 1 -name 'initramfs-*.cpio.gz' -mtime +7 -delete
echo "v2vm setup: kernel $kv ready in $cache" >&2
echo "$initrd" # the one line on stdout: run.sh boots this
