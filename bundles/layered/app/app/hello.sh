#!/bin/sh
# The layered bundle's process (config.json: args ["/bin/sh", "/app/hello.sh"]).
# This file is in the app layer (layers/app, made by bundles/build-all.sh from bundles/layered/app/);
# busybox comes from the base layer (layers/base, built by bundles/build-rootfs.sh).
echo "Hello from a container whose root is an overlay of two read-only layers."
echo "motd (the app layer's /etc/motd hides the base layer's):"
sed 's/^/  /' /etc/motd
echo "root mount: $(awk '$2 == "/" { print $3 }' /proc/self/mounts)"
echo "written here goes to the container's own upper dir" > /tmp/scratch && echo "wrote /tmp/scratch"
