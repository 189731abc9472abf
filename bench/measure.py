#!/usr/bin/env python3
"""Measurements of bench/bench.sh that hyperfine cannot make. Each prints one JSON object on stdout.

  measure.py peak-rss --runs N --helper PEAK_RSS [--after "CMD {n}"] -- ARGV...
      Runs ARGV N times through PEAK_RSS (bench/peak-rss.c: forks from a small static process, so
      the count does not start at python's own RSS) and reports each run's peak RSS in MiB: ru_maxrss
      of wait4, the process's (and that of any child it reaped, folded in as a maximum). {n} in ARGV
      is the run's number; --after runs (untimed) after each run, e.g. to delete what a `create`
      made. {"samples": [...]}.

  measure.py held --subreaper PID --count N --create "CMD {id}" --state "CMD {id}" --prefix P
      Creates N containers (ids P0..P{N-1}) and, while all of them wait for `start`, sums RSS and PSS
      (/proc/PID/smaps_rollup) of every process that appeared under the subreaper (the runtime's
      waiting init, and any helper it leaves behind), per container. Containers are not deleted here
      (the caller deletes them: its cleanup knows the ids). {"rss": [...], "pss": [...], "processes": [...]}.

  measure.py rate --workers W --iterations K --reps R -- ARGV... {id}
      R times: W workers in parallel, each running ARGV K times one after the other with a fresh id;
      reports lifecycles per second (completed lifecycles / wall time) per repetition, and how many
      failed. {"samples": [...], "failures": N}.

  measure.py alternate --runs N --warmup W --helper PEAK_RSS --case NAME PREPARE COMMAND [--case ...]
      Times several commands against each other under the same load: each of N rounds runs every
      case once, in a rotated order (the first case of round i is case i mod count), each after its
      PREPARE (a shell command, untimed; "" for none). The time is fork to reaped, taken by PEAK_RSS
      (bench/peak-rss.c), so python's own start-up costs nothing. W rounds first are not kept.
      COMMAND is split like a shell would (shlex), run without one. {"NAME": {"samples": [ms...],
      "rss": [MiB...]}, ...}.

  measure.py burst --count C --reps R --helper PEAK_RSS --prefix P --case NAME "CREATE {id}" "AFTER {id}" [--case ...]
      R rounds; in each, every case in turn (the order rotating from round to round, as alternate):
      C creates started at once (ids P<name>-<round>-<i>), each timed by PEAK_RSS; then AFTER
      (untimed) for each id. Reports, per case, creates per second (C / wall time from the first
      start to the last exit) per round and every create's latency. {"NAME": {"rate": [...],
      "latency": [[ms...] per round], "failures": N}, ...}.

Every command runs without a shell; {id} in an argument is replaced by the container id.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

MIB = 1024.0 * 1024.0


def fail(msg):
    print(f"measure: {msg}", file=sys.stderr)
    sys.exit(1)


def run_quiet(argv):
    # stderr goes to a file, not a pipe: a `create` leaves the container's init holding it open.
    with tempfile.TemporaryFile() as err:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        if r.returncode != 0:
            err.seek(0)
            fail(f"{' '.join(argv)} exited {r.returncode}: {err.read().decode(errors='replace').strip()}")


def peak_rss(runs, helper, argv, after):
    samples = []
    for n in range(runs):
        args = [a.replace("{n}", str(n)) for a in argv]
        r = subprocess.run([helper, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        if r.returncode != 0:
            fail(f"{' '.join(args)} exited with status {r.returncode}")
        samples.append(int(r.stdout.split()[0]) / 1024.0)  # KiB -> MiB
        if after:
            run_quiet([a.replace("{n}", str(n)) for a in after])
    return {"samples": samples}


def run_to_file(argv):
    """subprocess.run with stderr in a file, not a pipe: a `create` (or a set-up that creates) leaves the
    container's init holding what it was given, and a pipe would never reach EOF. (returncode, stdout, stderr)."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        out.seek(0)
        err.seek(0)
        return r.returncode, out.read(), err.read()


def timed(helper, argv):
    """(wall ms, peak RSS MiB, exit status, stderr) of one run of argv through the peak-rss helper."""
    rc, stdout, stderr = run_to_file([helper, *argv])
    out = stdout.split()
    if len(out) < 2:
        fail(f"{' '.join(argv)}: no measurement ({stderr.decode(errors='replace').strip()})")
    return int(out[1]) / 1000.0, int(out[0]) / 1024.0, rc, stderr


def alternate(runs, warmup, helper, cases):
    res = {name: {"samples": [], "rss": []} for name, _, _ in cases}
    for rnd in range(warmup + runs):
        k = rnd % len(cases)
        for name, prepare, argv in cases[k:] + cases[:k]:
            if prepare:
                prc, _, perr = run_to_file(["sh", "-c", prepare])
                if prc != 0:
                    fail(f"{name}: prepare {prepare!r} exited {prc}: {perr.decode(errors='replace').strip()}")
            ms, mib, rc, err = timed(helper, argv)
            if rc != 0:
                fail(f"{name}: {' '.join(argv)} exited {rc}: {err.decode(errors='replace').strip()}")
            if rnd >= warmup:
                res[name]["samples"].append(ms)
                res[name]["rss"].append(mib)
    return res


def burst_once(count, helper, create, after, ids):
    """C creates at once: (creates per second, [latency ms], failures); then AFTER for each id."""
    procs = []
    t0 = time.monotonic()
    for cid in ids:
        # stderr to a file: the container's init may hold what create gave it.
        err = tempfile.TemporaryFile()
        argv = [helper, *[a.replace("{id}", cid) for a in create]]
        procs.append((subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err), err))
    outs = []
    for p, err in procs:
        out, _ = p.communicate()
        err.close()
        outs.append((p.returncode, out.split()))
    wall = time.monotonic() - t0
    lat, failed = [], 0
    for rc, out in outs:
        if rc == 0 and len(out) >= 2:
            lat.append(int(out[1]) / 1000.0)
        else:
            failed += 1
    for cid in ids:
        subprocess.run([a.replace("{id}", cid) for a in after], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (count - failed) / wall, lat, failed


def burst(count, reps, helper, prefix, cases):
    res = {name: {"rate": [], "latency": [], "failures": 0} for name, _, _ in cases}
    for rnd in range(reps):
        k = rnd % len(cases)
        for name, create, after in cases[k:] + cases[:k]:
            rate, lat, failed = burst_once(count, helper, create, after, [f"{prefix}{name}-{rnd}-{i}" for i in range(count)])
            res[name]["rate"].append(rate)
            res[name]["latency"].append(lat)
            res[name]["failures"] += failed
    return res


def children_map():
    """ppid -> [pid] over /proc, and pid -> comm."""
    kids, comm = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        # comm may hold spaces and parentheses: the fields after the last ')' are fixed.
        rest = stat[stat.rindex(")") + 2 :].split()
        if rest[0] == "Z":
            continue
        kids.setdefault(int(rest[1]), []).append(int(name))
        comm[int(name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
    return kids, comm


def descendants(root):
    kids, comm = children_map()
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out, comm


def rollup(pid):
    """(rss, pss) in MiB from /proc/PID/smaps_rollup."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss / 1024.0, pss / 1024.0


def held(subreaper, count, create, state, prefix):
    mine = {os.getpid()}
    before, _ = descendants(subreaper)
    per_container = []
    for i in range(count):
        cid = f"{prefix}{i}"
        run_quiet([a.replace("{id}", cid) for a in create])
        out = subprocess.run([a.replace("{id}", cid) for a in state], capture_output=True, check=True).stdout
        per_container.append((cid, json.loads(out)["pid"]))
    # Every container exists now: what they hold is measured together, so PSS splits the pages they
    # share among them as the kernel would for N waiting containers.
    after, comm = descendants(subreaper)
    new = after - before - mine
    kids, _ = children_map()
    rss, pss, names = [], [], set()
    owned = set()
    for cid, pid in per_container:
        # The container's processes: its init and what descends from it ...
        group, todo = {pid}, [pid]
        while todo:
            for c in kids.get(todo.pop(), []):
                if c not in group:
                    group.add(c)
                    todo.append(c)
        owned |= group
        r = p = 0.0
        for q in group:
            a, b = rollup(q)
            r, p = r + a, p + b
            names.add(comm.get(q, "?"))
        rss.append(r)
        pss.append(p)
    # ... and any other process the runtime left under the subreaper (a monitor, a shim), shared out.
    extra = new - owned
    if extra:
        er = ep = 0.0
        for q in extra:
            try:
                a, b = rollup(q)
            except OSError:
                continue  # a short-lived process of our own create calls, gone
            er, ep = er + a, ep + b
            names.add(comm.get(q, "?"))
        rss = [x + er / count for x in rss]
        pss = [x + ep / count for x in pss]
    return {"rss": rss, "pss": pss, "processes": sorted(names)}


def rate(workers, iterations, reps, argv):
    samples, failures = [], 0
    for rep in range(reps):
        t0 = time.monotonic()
        procs = []
        for w in range(workers):
            # One worker: a sh loop of ARGV with ids ...-r<rep>w<w>-<i>, so no two lifecycles share an id.
            # A failed lifecycle is counted, not fatal (its container is left to the caller's cleanup).
            cmds = [
                shlex.join([a.replace("{id}", f"r{rep}w{w}-{i}") for a in argv]) + " >/dev/null || f=$((f + 1))"
                for i in range(iterations)
            ]
            # The count goes to a file: a pipe would be held open by a container a failed lifecycle left.
            out = tempfile.NamedTemporaryFile(mode="r", prefix="rate-")
            script = "f=0\n" + "\n".join(cmds) + f"\necho $f >{shlex.quote(out.name)}\n"
            procs.append((subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL), out))
        failed = 0
        for p, out in procs:
            p.wait()
            with out:
                failed += int(out.read().strip() or iterations)
        wall = time.monotonic() - t0
        failures += failed
        samples.append((workers * iterations - failed) / wall)
    return {"samples": samples, "failures": failures}


def opt(args, name, default=None):
    if name in args:
        i = args.index(name)
        return args[i + 1]
    if default is None:
        fail(f"missing {name}")
    return default


def case_args(head):
    """The --case NAME X Y triples among the options (every other option takes one value)."""
    cases, i = [], 0
    while i < len(head):
        if head[i] == "--case":
            cases.append((head[i + 1], head[i + 2], head[i + 3]))
            i += 4
        else:
            i += 2
    if not cases:
        fail("no --case")
    return cases


def main(argv):
    if not argv:
        fail("usage: measure.py peak-rss|held|rate|alternate|burst ...")
    cmd, args = argv[0], argv[1:]
    tail = args[args.index("--") + 1 :] if "--" in args else []
    head = args[: args.index("--")] if "--" in args else args
    if cmd == "peak-rss":
        res = peak_rss(int(opt(head, "--runs")), opt(head, "--helper"), tail, shlex.split(opt(head, "--after", "")))
    elif cmd == "held":
        res = held(
            int(opt(head, "--subreaper")),
            int(opt(head, "--count")),
            shlex.split(opt(head, "--create")),
            shlex.split(opt(head, "--state")),
            opt(head, "--prefix"),
        )
    elif cmd == "alternate":
        cases = [(n, prep, shlex.split(c)) for n, prep, c in case_args(head)]
        res = alternate(int(opt(head, "--runs")), int(opt(head, "--warmup", "0")), opt(head, "--helper"), cases)
    elif cmd == "burst":
        cases = [(n, shlex.split(c), shlex.split(a)) for n, c, a in case_args(head)]
        res = burst(int(opt(head, "--count")), int(opt(head, "--reps")), opt(head, "--helper"), opt(head, "--prefix"), cases)
    elif cmd == "rate":
        res = rate(int(opt(head, "--workers")), int(opt(head, "--iterations")), int(opt(head, "--reps")), tail)
    else:
        fail(f"unknown command {cmd}")
    json.dump(res, sys.stdout)
    print()


if __name__ == "__main__":
    main(sys.argv[1:])
