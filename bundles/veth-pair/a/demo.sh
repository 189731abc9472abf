#!/bin/sh
# One end of a veth pair, in a network namespace made by hand (see ../README.md).
echo "$(hostname): interfaces $(cd /sys/class/net && echo *)"
ip -4 -o addr show | awk '$2 != "lo" {print "  " $2 " " $4}'
echo "pinging the other namespace at ${PEER}:"
ping -c 3 -W 2 "$PEER"
