#!/usr/bin/env python3
"""Test-side terminals for test/integration/terminal.test.ts (Node cannot receive SCM_RIGHTS or make a pty).
(Not named tty.py: a script's own directory comes first on sys.path and would shadow the stdlib tty.)

  terminal-peer.py receive SOCKET STEPS   listen on the AF_UNIX socket SOCKET (prints "listening"), accept one
                                connection, receive the pty master as a console-socket manager does
                                (conmon, the containerd shim), then run STEPS on it
  terminal-peer.py drive STEPS CMD...     run CMD on a new pty of our own (CMD's controlling terminal and stdio,
                                24x80) as a person at a terminal would, and run STEPS on its master

STEPS is a JSON list of:
  ["write", text]               type text
  ["expect", text, seconds?]    read until text appears (after what earlier expects consumed)
  ["resize", rows, cols]        TIOCSWINSZ on the master (a terminal window resized)
  ["winsize"]                   record the master's window size
  ["sleep", seconds]            let the other side get on (a person types slower than this script)
  ["eof", seconds?]             read until no slave is open any more (EIO)
The last line on stdout is one JSON object: ok, error, the records, everything read (transcript), and
for receive: received_at (ms since the epoch), payload, fds, extra (what followed the message), rdev and ptn of the received fd; for
drive: status (exit code, or -signal) and lflag_restored (our terminal is canonical + echo again).
"""
import array
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import sys
import termios
import time

TIOCGPTN = 0x80045430
result = {"ok": True, "records": [], "transcript": ""}


def read_some(fd, timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return b""
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: every slave closed
        return None


def winsize(fd):
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return [rows, cols]


def run_steps(master, steps, alive=lambda: True):
    buf = ""
    for step in steps:
        kind = step[0]
        if kind == "write":
            os.write(master, step[1].encode())
        elif kind == "resize":
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", step[1], step[2], 0, 0))
        elif kind == "sleep":
            time.sleep(step[1])
        elif kind == "winsize":
            result["records"].append(winsize(master))
        elif kind in ("expect", "eof"):
            deadline = time.time() + (step[2] if kind == "expect" and len(step) > 2 else step[1] if kind == "eof" and len(step) > 1 else 10)
            while True:
                if kind == "expect" and step[1] in buf:
                    buf = buf[buf.index(step[1]) + len(step[1]):]
                    break
                if time.time() > deadline:
                    raise RuntimeError(f"timed out at {json.dumps(step)}; unread: {json.dumps(buf[-400:])}")
                data = read_some(master, 0.1)
                if data is None:
                    if kind == "eof":
                        break
                    raise RuntimeError(f"pty closed at {json.dumps(step)}; unread: {json.dumps(buf[-400:])}")
                text = data.decode(errors="replace")
                buf += text
                result["transcript"] += text
        else:
            raise RuntimeError(f"unknown step {step}")


def receive(path, steps):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    print("listening", flush=True)
    srv.settimeout(30)
    conn, _ = srv.accept()
    conn.settimeout(30)
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(16 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    result["received_at"] = time.time() * 1000
    result["payload"] = msg.decode(errors="replace")
    result["fds"] = len(fds)
    # One message, then the runtime closes: anything more is a protocol error.
    extra = b""
    while True:
        more = conn.recv(1024)
        if not more:
            break
        extra += more
    result["extra"] = extra.decode(errors="replace")
    conn.close()
    srv.close()
    if len(fds) != 1:
        raise RuntimeError(f"expected one fd, got {len(fds)}")
    master = fds[0]
    st = os.fstat(master)
    result["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    result["ptn"] = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
    result["winsize"] = winsize(master)
    run_steps(master, steps)


def drive(steps, cmd):
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    before = termios.tcgetattr(slave)

    def ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=ctty)
    try:
        run_steps(master, steps)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        result["status"] = proc.returncode
        # What was written last, then our terminal as tsrun left it.
        while True:
            data = read_some(master, 0.2)
            if not data:
                break
            result["transcript"] += data.decode(errors="replace")
        after = termios.tcgetattr(slave)
        result["lflag_restored"] = after[3] == before[3] and after[0] == before[0] and after[1] == before[1]


def main():
    try:
        if len(sys.argv) == 4 and sys.argv[1] == "receive":
            receive(sys.argv[2], json.loads(sys.argv[3]))
        elif len(sys.argv) >= 4 and sys.argv[1] == "drive":
            drive(json.loads(sys.argv[2]), sys.argv[3:])
        else:
            print(__doc__, file=sys.stderr)
            sys.exit(2)
    except Exception as e:  # reported in the JSON, with the transcript so far
        result["ok"] = False
        result["error"] = f"{type(e).__name__}: {e}"
    print(json.dumps(result), flush=True)


main()
