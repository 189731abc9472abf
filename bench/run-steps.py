#!/usr/bin/env python3
"""The steps of one `tsrun run` of /bin/true, from low-overhead traces (bench/breakdown.sh):

  strace --seccomp-bpf -f -ttt -T -e trace=execve,vfork,clone,clone3,pivot_root,umount2,write,exit_group,wait4,mkdir,rmdir \
      -o TRACE bin/tsrun --root ROOT run --bundle B ID

  run-steps.py 'GLOB'   -> a markdown table: each step's median duration over the traces matching GLOB.

Only the listed syscalls stop the process (--seccomp-bpf), so the rest runs at full speed; each
traced syscall still costs ~0.1 ms, which inflates the steps that make many of them (the rmdirs of
delete, the cgroup writes). Milestones: Bun's first helper thread, create's first state.json write,
the vfork of tsrun-init, its execve, the container's clone3, pivot_root, the "created" state write,
the init's "0" on the exec fifo (start), execve of /bin/true, stage 0's wait4, delete's freezer
write, tsrun's exit_group.
"""
import glob
import re
import statistics
import sys

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")


def milestones(path):
    """[(name, time)] of one trace; name says what ends at that time."""
    ev = []
    for line in open(path, errors="replace"):
        m = LINE.match(line.rstrip("\n"))
        if m:
            ev.append((int(m.group(1)), float(m.group(2)), m.group(3)))
    t0, main = ev[0][1], ev[0][0]

    def first(pred, after=0.0):
        return next((t for p, t, r in ev if t >= after and pred(p, r)), None)

    vfork = first(lambda p, r: r.startswith("vfork("))
    pivot = first(lambda p, r: r.startswith("pivot_root("))
    true = first(lambda p, r: r.startswith('execve("/bin/true"'))
    return [
        ("execve of bin/tsrun", t0),
        ("Bun runtime up (first helper thread)", first(lambda p, r: r.startswith("clone3(") and "CLONE_THREAD" in r)),
        ("first state.json write (modules, bundle load, validation, claim)", first(lambda p, r: r.startswith("write(") and "ociVersion" in r)),
        ("spawn of tsrun-init (vfork): cgroups, device rules, plan", vfork),
        ("execve of tsrun-init", first(lambda p, r: r.startswith("execve(") and "tsrun-init" in r)),
        ("container clone3 with 6 namespaces (tsrun-init start-up, plan decode)", first(lambda p, r: r.startswith("clone3(") and "CLONE_NEWNS" in r)),
        ("pivot_root (syncs with tsrun, cgroup join, mounts, devices)", pivot),
        ('"created" state written (ready)', first(lambda p, r: r.startswith("write(") and "ociVersion" in r, pivot or 0.0)),
        ('start: init writes "0" to the exec fifo', first(lambda p, r: r.startswith('write(4, "0"'))),
        ("execve /bin/true", true),
        ("stage 0 reaps the container", first(lambda p, r: "wait4 resumed" in r, true or 0.0)),
        ("delete begins (freezer THAWED write)", first(lambda p, r: "THAWED" in r, true or 0.0)),
        ("tsrun exit_group", first(lambda p, r: p == main and r.startswith("exit_group"))),
    ]


def main(pattern):
    steps, order, totals = {}, [], []
    for path in sorted(glob.glob(pattern)):
        marks = milestones(path)
        if any(t is None for _, t in marks):
            print(f"run-steps: {path}: a milestone is missing, trace skipped", file=sys.stderr)
            continue
        for (_, t1), (name, t2) in zip(marks, marks[1:]):
            if name not in steps:
                steps[name] = []
                order.append(name)
            steps[name].append((t2 - t1) * 1000)
        totals.append((marks[-1][1] - marks[0][1]) * 1000)
    print("| step (ends at) | median ms | min-max |\n|---|---:|---:|")
    for name in order:
        v = steps[name]
        print(f"| {name} | {statistics.median(v):.2f} | {min(v):.2f}-{max(v):.2f} |")
    if totals:
        print(f"| **total** (under strace) | {statistics.median(totals):.2f} | {min(totals):.2f}-{max(totals):.2f} |")


if __name__ == "__main__":
    main(sys.argv[1])
