#!/bin/sh
# A busy container for the freezer demo: it burns CPU until it is killed. From another terminal,
# `tsrun pause <id>` freezes it (its CPU time stops growing) and `tsrun resume <id>` thaws it.
echo "busy loop in pid $$: freeze me with 'tsrun pause <id>', thaw with 'tsrun resume <id>'"
trap 'echo "stopped"; exit 0' INT TERM
while :; do :; done
