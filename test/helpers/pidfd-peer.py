#!/usr/bin/env python3
# A --pidfd-socket manager for the tests, as containerd's shim is one: listen at argv[1], accept one
# connection, receive one SCM_RIGHTS message and report (one JSON line) its data, how many fds came,
# what the fd is (/proc/self/fd link) and the pid it refers to (fdinfo Pid:/NSpid:), and whether the
# sender then closed its end. Then commands on stdin, one per line:
#   signal N   pidfd_send_signal(fd, N), then poll the pidfd until the process exits (10 s at most)
# each answered by one JSON line. Exits at the end of stdin.
import json
import os
import select
import signal
import socket
import sys

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1])
srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
srv.close()
data, fds, _, _ = socket.recv_fds(conn, 4096, 4)
out = {"payload": data.decode(), "fds": len(fds)}
fd = fds[0] if fds else -1
if fd >= 0:
    out["link"] = os.readlink(f"/proc/self/fd/{fd}")
    for line in open(f"/proc/self/fdinfo/{fd}"):
        key, _, value = line.partition(":")
        if key in ("Pid", "NSpid"):
            out[key] = [int(v) for v in value.split()]
ready, _, _ = select.select([conn], [], [], 5)
out["eof"] = bool(ready) and conn.recv(1) == b""
print(json.dumps(out), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd and cmd[0] == "signal":
        signal.pidfd_send_signal(fd, int(cmd[1]))
        p = select.poll()
        p.register(fd, select.POLLIN)
        print(json.dumps({"signalled": int(cmd[1]), "exited": bool(p.poll(10000))}), flush=True)
