#!/bin/sh
# Map the caller into a bundle's user namespace: every hostID of linux.uidMappings becomes the caller's
# uid (id -u), every one of linux.gidMappings its gid (id -g). For the rootless bundles (gotalk, contain),
# whose config.json ships with hostID 1000, as `tsrun spec --rootless` writes the caller's ids.
#
#   bundles/map-caller.sh <bundle-dir>
set -eu
[ "$#" -eq 1 ] || { echo "usage: $0 <bundle-dir>" >&2; exit 2; }
config="$1/config.json"
tmp="$config.tmp.$$"
sed -e "/\"uidMappings\"/,/]/ s/\"hostID\": [0-9]*/\"hostID\": $(id -u)/" \
    -e "/\"gidMappings\"/,/]/ s/\"hostID\": [0-9]*/\"hostID\": $(id -g)/" "$config" >"$tmp"
mv "$tmp" "$config"
