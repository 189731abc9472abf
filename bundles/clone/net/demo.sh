#!/bin/sh
# CLONE_NEWNET: a network stack of its own, with only a loopback device.
echo "network namespace: interfaces $(cd /sys/class/net && echo *)"
ip -o link show | awk '{print "  " $2 " " $3}'
