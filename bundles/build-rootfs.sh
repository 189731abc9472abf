#!/usr/bin/env bash
# Builds a minimal busybox root filesystem from the host's busybox-static.
#
#   bundles/build-rootfs.sh <dir>
#
# <dir> gets:
#   bin/busybox plus one symlink per applet (`busybox --list`) in bin/;
#   sbin, usr/bin, usr/sbin as symlinks to bin (so /usr/bin/env, /sbin/ip work);
#   empty proc sys dev tmp etc root run var mnt opt srv (tmp is 1777, root is 0700);
#   etc/passwd and etc/group with root (0), app (1000:1000) and nobody (65534);
#   etc/hostname, etc/hosts, etc/resolv.conf (empty).
#
# Idempotent and fast: <dir>/.tsrun-rootfs holds a stamp (layout version + sha256 of
# the busybox binary); when it matches, nothing is done. Otherwise the rootfs is built
# in a sibling temp dir and swapped in, so a reader never sees a half-built rootfs.
# An existing non-empty <dir> without the stamp is refused (never deletes foreign data).
set -euo pipefail

LAYOUT_VERSION=2
STAMP_NAME=.tsrun-rootfs

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 <dir>" >&2
  exit 2
fi
dest=${1%/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

find_busybox() {
  local p
  for p in /bin/busybox /usr/bin/busybox; do
    if [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  return 1
}

# busybox-static (not the dynamically linked `busybox` package): the rootfs has no libc.
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
  "$here/../src/build/install-deps.sh"
fi
busybox=$(find_busybox) || { echo "build-rootfs: busybox not found after install" >&2; exit 1; }

stamp="layout=$LAYOUT_VERSION busybox=$(sha256sum "$busybox" | cut -d' ' -f1)"
if [ -f "$dest/$STAMP_NAME" ] && [ -x "$dest/bin/busybox" ] &&
  [ "$(cat "$dest/$STAMP_NAME")" = "$stamp" ]; then
  exit 0
fi

if [ -e "$dest" ] && [ ! -f "$dest/$STAMP_NAME" ] &&
  [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
  echo "build-rootfs: $dest exists, is not empty and was not built by this script; remove it first" >&2
  exit 1
fi

parent=$(dirname "$dest")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.rootfs-build.XXXXXX")
old=""
cleanup() {
  rm -rf --one-file-system "$tmp"
  if [ -n "$old" ]; then rm -rf --one-file-system "$old"; fi
}
trap cleanup EXIT

cd "$tmp"
mkdir -p bin proc sys dev tmp etc root run var/tmp var/log usr mnt opt srv
chmod 1777 tmp var/tmp
chmod 0700 root
chmod 0755 .
ln -s bin sbin
ln -s ../bin usr/bin
ln -s ../bin usr/sbin
cp "$busybox" bin/busybox
chmod 0755 bin/busybox

# One symlink per applet, relative so it resolves inside the container.
# perl (perl-base is Essential in Debian) does it in one process instead of ~270 `ln`s.
mapfile -t applets < <("$busybox" --list | grep -v -x -e busybox -e '')
(cd bin && perl -e 'for (@ARGV) { symlink("busybox", $_) or die "symlink $_: $!\n" }' "${applets[@]}")

cat >etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >etc/group <<'EOF'
root:x:0:
app:x:1000:
nogroup:x:65534:
nobody:x:65534:
EOF
mkdir -p home/app
# Built by an ordinary user (a rootless container's lower layer, as the consh talk's create_lowerfs.sh):
# everything stays the user's, which is root inside the container.
if [ "$(id -u)" = 0 ]; then chown 1000:1000 home/app; fi
echo tsrun >etc/hostname
cat >etc/hosts <<'EOF'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
EOF
: >etc/resolv.conf
chmod 0644 etc/passwd etc/group etc/hostname etc/hosts etc/resolv.conf
echo "$stamp" >"$STAMP_NAME"
cd - >/dev/null

# Swap into place.
if [ -e "$dest" ]; then
  old="$parent/.rootfs-old.$$"
  mv "$dest" "$old"
fi
mv "$tmp" "$dest"
echo "build-rootfs: built $dest (${#applets[@]} applets)" >&2
