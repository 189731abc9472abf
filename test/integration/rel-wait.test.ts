// Wait without polling sleeps: `delete --force` of a running container and a foreground `run` learn of
// the exit from a pidfd (runc sleeps 100 ms in a loop here). Observed with strace -f: tsrun's own
// processes (not the container's) never call nanosleep, and the wait is a pidfd that polls readable.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { INIT, Scratch, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const STRACE = ["/usr/bin/strace", "/bin/strace"].find((p) => { try { readFileSync(p); return true; } catch { return false; } })!;
const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

interface Syscall { pid: number; line: string }

/** Run bin/tsrun under strace -f; returns the exit status and the traced lines of tsrun's own processes. */
function traced(args: string[]): { status: number | null; calls: Syscall[] } {
  const out = join(s.dir, `strace.${Math.random().toString(36).slice(2)}`);
  const r = spawnSync(STRACE, ["-f", "-qq", "-o", out, "-e", "trace=execve,openat,pidfd_open,poll,ppoll,epoll_pwait,epoll_pwait2,nanosleep,clock_nanosleep,select,pselect6,futex", TSRUN, "--root", s.root, ...args], { env: {}, stdio: "ignore", timeout: 60_000 });
  const lines = readFileSync(out, "utf8").split("\n").filter(Boolean).map((line) => ({ pid: Number(line.split(" ")[0]), line }));
  // Container processes: those that executed something from the rootfs (not tsrun, not tsrun-init).
  const container = new Set(lines.filter((l) => /execve\("(?!\/.*\/bin\/tsrun)/.test(l.line) && !l.line.includes(TSRUN) && !l.line.includes(INIT)).map((l) => l.pid));
  return { status: r.status, calls: lines.filter((l) => !container.has(l.pid)) };
}

/**
 * Sleeps of tsrun's own processes: nanosleep anywhere, and on tsrun's main thread a futex wait that
 * timed out (what a JS `Atomics.wait(..., ms)` sleep looks like; Bun's helper threads park on futexes
 * for their own reasons, so only the main thread is looked at), and a pidfd poll that timed out.
 */
function sleeps(calls: Syscall[]): string[] {
  const main = calls.find((c) => c.line.includes(`execve("${TSRUN}"`))!.pid;
  return calls
    .filter((c) => /\b(clock_)?nanosleep\(/.test(c.line) || (c.pid === main && /futex\(.*FUTEX_WAIT.*= -1 ETIMEDOUT/.test(c.line)) || /^\d+ poll\(.*\) = 0/.test(c.line))
    .map((c) => c.line);
}

test("delete --force of a running container (SIGTERM ignored): a pidfd on the init, no sleep", () => {
  const id = s.id("del");
  const r = s.tsrun(["run", "--detach", "--bundle", s.bundle((c) => (c.process.args = ["sh", "-c", "trap '' TERM; sleep 1000"])), id]);
  expect(r.status).toBe(0);
  const pid = s.state(id).pid;
  const t = traced(["delete", "--force", id]);
  expect(t.status).toBe(0);
  expect(sleeps(t.calls)).toEqual([]);
  // tsrun-init wait opens a pidfd on the init and polls it: readable at once (the init was SIGKILLed).
  // tsrun-init wait opens a pidfd on the SIGKILLed init and polls it: readable at once. (If the
  // subreaper has reaped the init already, pidfd_open says ESRCH, which means it has exited.)
  const open = t.calls.find((c) => c.line.includes(`pidfd_open(${pid}, 0)`));
  if (!open) {
    // cgroup.kill (cgroup v2, Linux 5.14+) ended every process at once, and the subreaper reaped the init
    // before delete listed what to wait for: there was nothing to wait on. Then cgroup.kill was written,
    // and the init is gone.
    expect(t.calls.some((c) => /openat\(.*cgroup\.kill", O_WRONLY/.test(c.line) && !/= -1 /.test(c.line))).toBe(true);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    return;
  }
  const fd = /= (\d+)$/.exec(open!.line)?.[1];
  if (fd === undefined) expect(open!.line).toMatch(/= -1 ESRCH/);
  else expect(t.calls.some((c) => c.pid === open!.pid && new RegExp(`poll\\(\\[\\{fd=${fd}, events=POLLIN\\}\\], 1, \\d+\\)\\s+= 1`).test(c.line))).toBe(true);
});

test("run in the foreground: the exit of stage 0 is watched with a pidfd in the event loop, no sleep", () => {
  const id = s.id("run");
  // The container exits 3 after a short while; run must wait for it and return its status.
  const t = traced(["run", "--bundle", s.bundle((c) => (c.process.args = ["sh", "-c", "sleep 0.3; exit 3"])), id]);
  expect(t.status).toBe(3);
  expect(sleeps(t.calls)).toEqual([]);
  const stage0 = t.calls.find((c) => c.line.includes(`execve("${INIT}", ["${INIT}", "init"`));
  expect(stage0).toBeDefined();
  // (strace pads "= fd" with more spaces when another process's call was pending meanwhile.)
  expect(t.calls.some((c) => new RegExp(`pidfd_open\\(${stage0!.pid}, PIDFD_NONBLOCK\\)\\s+= \\d+$`).test(c.line))).toBe(true);
});
