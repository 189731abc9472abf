#!/bin/sh
# CLONE_NEWUTS: the hostname belongs to the container.
echo "UTS namespace: hostname here is '$(hostname)'; setting it here never changes the host's."
