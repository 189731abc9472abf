#!/usr/bin/env python3
"""Milestones of one `strace -f -ttt -T` trace of a tsrun verb (bench/breakdown.sh), in ms from execve.

  strace-timeline.py TRACE STATE_ROOT

Prints: when the runtime's work starts (its first access under STATE_ROOT, i.e. start-up and module
loading are over), every process start (execve) and its exit, the span of cgroupfs accesses, the
time spent in wait4/poll/sleeps of the main process, and the main process's exit.
"""
import re
import sys

LINE = re.compile(r"^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(\d+\.\d+)\s+(.*)$")


def main(path, root):
    events = []
    first_pid = None
    for raw in open(path, errors="replace"):
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        pid = int(m.group(1) or m.group(2) or 0)
        t = float(m.group(3))
        rest = m.group(4)
        if first_pid is None and rest.startswith("execve("):
            first_pid = pid
        events.append((pid, t, rest))
    if not events:
        print("no events")
        return
    t0 = events[0][1]
    ms = lambda t: (t - t0) * 1000.0
    out = []
    work = next((t for _, t, r in events if root in r and not r.startswith("execve(")), None)
    if work is not None:
        out.append((work, f"first access under the state root (start-up + module loading done)"))
    cg = [t for _, t, r in events if "/sys/fs/cgroup" in r]
    if cg:
        out.append((cg[0], f"cgroupfs: {len(cg)} syscalls from here ..."))
        out.append((cg[-1], "... to here"))
    main_pid = events[0][0]
    blocked = 0.0
    for pid, t, r in events:
        if r.startswith("execve(") and t != t0:
            prog = r.split('"')[1] if '"' in r else r[:60]
            out.append((t, f"execve {prog} (pid {pid})"))
        if r.startswith("+++ exited") or r.startswith("+++ killed"):
            out.append((t, f"pid {pid} {r.strip('+ ')}"))
        if pid in (main_pid, 0) and re.match(r"(wait4|poll|ppoll|epoll_pwait2?|epoll_wait|clock_nanosleep|nanosleep|futex\(.*FUTEX_WAIT)", r):
            d = re.search(r"<(\d+\.\d+)>$", r)
            if d:
                blocked += float(d.group(1)) * 1000.0
    out.sort()
    end = events[-1][1]
    for t, what in out:
        print(f"{ms(t):8.2f} ms  {what}")
    print(f"{ms(end):8.2f} ms  end of trace (total {ms(end):.2f} ms under strace, which slows syscalls)")
    print(f"main thread blocked in wait4/poll/futex-wait/sleep: {blocked:.2f} ms")
    print(f"syscalls: {len(events)}, processes: {sum(1 for _, _, r in events if r.startswith('execve('))} execve")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
