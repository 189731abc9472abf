#!/usr/bin/env bash
# Builds the root filesystem of every example bundle in bundles/ that needs one.
#
#   bundles/build-all.sh
#
# A bundle needs a rootfs when its directory has a config.json and either a
# `rootfs.busybox` marker file or is listed in BUSYBOX_BUNDLES below. Each rootfs
# is built by build-rootfs.sh (idempotent: a second run is a no-op), then the
# bundle's extra files are copied in (e.g. busybox/demo.sh -> busybox/rootfs/demo.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Bundles whose config.json has root.path "rootfs" built from busybox.
BUSYBOX_BUNDLES=(busybox)
for marker in "$here"/*/rootfs.busybox; do
  [ -e "$marker" ] || continue
  name=$(basename "$(dirname "$marker")")
  case " ${BUSYBOX_BUNDLES[*]} " in *" $name "*) ;; *) BUSYBOX_BUNDLES+=("$name") ;; esac
done

for name in "${BUSYBOX_BUNDLES[@]}"; do
  bundle="$here/$name"
  if [ ! -f "$bundle/config.json" ]; then
    echo "build-all: $bundle/config.json missing" >&2
    exit 1
  fi
  "$here/build-rootfs.sh" "$bundle/rootfs"
done

# Per-bundle extra files, copied into the rootfs when changed.
install_file() { # <src> <dest> <mode>
  if ! cmp -s "$1" "$2"; then
    install -m "$3" "$1" "$2"
  fi
}
install_file "$here/busybox/demo.sh" "$here/busybox/rootfs/demo.sh" 0755

# The layered example (bundles/layered): a base layer that is the busybox rootfs plus an /etc/motd,
# and an app layer copied from bundles/layered/app/ (its /etc/motd overrides the base one). Both are
# generated (.gitignore); rootfs/ is only the empty mount point of the overlay.
layered="$here/layered"
"$here/build-rootfs.sh" "$layered/layers/base"
printf 'Welcome to the tsrun layered example (base layer).\n' >"$layered/base-motd.tmp"
install_file "$layered/base-motd.tmp" "$layered/layers/base/etc/motd" 0644
rm -f "$layered/base-motd.tmp"
if ! diff -r "$layered/app" "$layered/layers/app" >/dev/null 2>&1; then
  rm -rf "$layered/layers/app.tmp"
  cp -a "$layered/app" "$layered/layers/app.tmp"
  chmod 0755 "$layered/layers/app.tmp/app/hello.sh"
  rm -rf "$layered/layers/app"
  mv "$layered/layers/app.tmp" "$layered/layers/app"
fi
mkdir -p "$layered/rootfs"

# Bundles whose root is an overlay of tsrun.layers: root.path is an empty mount point (.gitignore).
mkdir -p "$here/teaching-web/rootfs" "$here/busybox-shell/rootfs" "$here/nested/rootfs"
