#!/bin/sh
# CLONE_NEWPID: the container's first process is PID 1 and sees only its own processes.
echo "PID namespace: this shell is PID $$; the processes it can see:"
/bin/ps
