#!/usr/bin/env python3
"""Drive a program through a real pseudo-terminal, as a person at a terminal would.

usage: pty-drive.py '<json>'  with {"argv": [...], "env": {...}, "steps": [{"expect": "...", "send": "..."}],
"timeout": seconds, "rows": R, "cols": C}. Each step waits until `expect` has appeared in the output
(after the previous step's match), then types `send`. Prints one JSON object: {"output", "status",
"timedOut"}; status is the exit code, or 128+N for signal N.
"""
import fcntl, json, os, pty, select, signal, struct, sys, termios, time

spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execve(spec["argv"][0], spec["argv"], spec.get("env", {}))
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", spec.get("rows", 24), spec.get("cols", 80), 0, 0))
deadline = time.monotonic() + spec.get("timeout", 20)
out = b""
pos = 0
steps = list(spec.get("steps", []))
timed_out = False
while True:
    if steps and steps[0]["expect"].encode() in out[pos:]:
        pos = out.index(steps[0]["expect"].encode(), pos) + len(steps[0]["expect"])
        os.write(fd, steps.pop(0)["send"].encode())
        continue
    left = deadline - time.monotonic()
    if left <= 0:
        timed_out = True
        os.kill(pid, signal.SIGKILL)
        break
    r, _, _ = select.select([fd], [], [], min(left, 0.2))
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break  # EIO: the other side closed (the program exited)
        if not data:
            break
        out += data
_, st = os.waitpid(pid, 0)
status = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
print(json.dumps({"output": out.decode("utf8", "replace"), "status": status, "timedOut": timed_out}))
