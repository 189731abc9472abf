// OCI hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle"), observed by the hooks themselves:
// each records its name and argv, its env, its stdin (the state JSON), the mount and pid namespaces it
// runs in and what it can see, to a directory of the test. The test compares those namespaces with the
// host's (this process) and the container's (/proc/<pid>/ns/* of the init), and checks the order across
// create, start and delete, the statuses, the pid, the timeouts, and that every failing hook fails its
// operation and leaves nothing behind (poststop only warns).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { ROOTFS, Scratch, TSRUN, ensureBuilt, leftovers, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

const HOST_BUSYBOX = join(ROOTFS, "bin/busybox"); // static: runs on the host as well
/** Where a container sees its record directory (a bind mount of it). */
const IN_CONTAINER = "/mnt";
/** Passed to every tsrun call: a hook must not inherit it (its env is exactly the config's). */
const TSRUN_ENV = { TSRUN_TEST_LEAK: "1" };

// $0 = the hook's label, $1 = the record directory. The hook runs as busybox's `sh` applet only if
// argv[0] is args[0] ("sh"): with its path as argv[0] busybox would not know what to run.
// initmounts: how many mounts of the init's mount namespace are at <rootfs>/mnt (the config's bind
// mount as seen before pivot_root; after it, the same mount is at /mnt).
const RECORD = [
  'd="$1"',
  'echo "$0" >> "$d/order"',
  'in="$(cat)"',
  `pid=$(echo "$in" | sed 's/.*"pid":\\([0-9]*\\).*/\\1/')`,
  "{",
  `  echo "initmounts=$(grep -c ' ${ROOTFS}${IN_CONTAINER} ' /proc/$pid/mountinfo 2>/dev/null)"`,
  '  echo "argv=$0 $*"',
  '  echo "mnt=$(readlink /proc/self/ns/mnt)"',
  '  echo "pidns=$(readlink /proc/self/ns/pid)"',
  '  test -d "$HOST_DIR" && echo "hostpath=yes" || echo "hostpath=no"',
  `  test -e ${IN_CONTAINER}/order && echo "containerview=yes" || echo "containerview=no"`,
  "  env | sort | sed 's/^/env:/'",
  '  echo "stdin=$in"',
  '} > "$d/$0.txt"',
].join("\n");

type Kind = "prestart" | "createRuntime" | "createContainer" | "startContainer" | "poststart" | "poststop";

interface Rec {
  initmounts: string;
  argv: string;
  mnt: string;
  pidns: string;
  hostpath: string;
  containerview: string;
  env: string[];
  stdin: any;
}

/** A record directory (bind-mounted at /mnt in the container) for one container. */
function recordDir(): string {
  const d = join(s.dir, `rec${s.ids.size}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(d);
  return d;
}

/** A hook that records itself as `label`; startContainer's path and record dir are the container's. */
function recorder(kind: Kind, label: string, dir: string, extra: object = {}) {
  const inContainer = kind === "startContainer";
  return {
    path: inContainer ? "/bin/busybox" : HOST_BUSYBOX,
    args: ["sh", "-c", RECORD, label, inContainer ? IN_CONTAINER : dir],
    env: ["PATH=/bin:/usr/bin", `HOOK_KIND=${kind}`, `HOST_DIR=${dir}`],
    ...extra,
  };
}

/** A hook that fails: exit 3 with "boom <kind>" on stderr (and something on stdout, which is not reported). */
function failing(kind: Kind) {
  return {
    path: kind === "startContainer" ? "/bin/busybox" : HOST_BUSYBOX,
    args: ["sh", "-c", `echo noise; echo "boom ${kind}" >&2; exit 3`],
    env: ["PATH=/bin:/usr/bin"],
  };
}

/** A bundle whose process records itself too (so its place in the order shows), with `hooks`. */
function bundleWith(dir: string, hooks: Partial<Record<Kind, object[]>>, script = "true") {
  return s.bundle((c) => {
    c.process.args = ["sh", "-c", `echo process >> ${IN_CONTAINER}/order; ${script}`];
    c.mounts.push({ destination: IN_CONTAINER, type: "bind", source: dir, options: ["rbind", "rw"] });
    c.hooks = hooks;
  });
}

function order(dir: string): string[] {
  return existsSync(join(dir, "order")) ? readFileSync(join(dir, "order"), "utf8").trim().split("\n") : [];
}

function rec(dir: string, label: string): Rec {
  const text = readFileSync(join(dir, `${label}.txt`), "utf8");
  const get = (k: string) => text.match(new RegExp(`^${k}=(.*)$`, "m"))?.[1] ?? "";
  return {
    initmounts: get("initmounts"),
    argv: get("argv"),
    mnt: get("mnt"),
    pidns: get("pidns"),
    hostpath: get("hostpath"),
    containerview: get("containerview"),
    env: text.split("\n").filter((l) => l.startsWith("env:")).map((l) => l.slice(4)),
    stdin: JSON.parse(get("stdin")),
  };
}

const HOST = { mnt: readlinkSync("/proc/self/ns/mnt"), pidns: readlinkSync("/proc/self/ns/pid") };
const tsrun = (args: string[]) => s.tsrun(args, { env: TSRUN_ENV });

function allKinds(dir: string) {
  return {
    prestart: [recorder("prestart", "prestart0", dir), recorder("prestart", "prestart1", dir)],
    createRuntime: [recorder("createRuntime", "createRuntime0", dir)],
    createContainer: [recorder("createContainer", "createContainer0", dir)],
    startContainer: [recorder("startContainer", "startContainer0", dir)],
    poststart: [recorder("poststart", "poststart0", dir)],
    poststop: [recorder("poststop", "poststop0", dir)],
  };
}

test("create, start, delete: every kind at its point, in its namespace, with the state on stdin", () => {
  const dir = recordDir();
  const b = bundleWith(dir, allKinds(dir), "exec sleep 30");
  const id = s.id("all");

  const created = tsrun(["create", "--bundle", b, id]);
  expect(created.stderr).toBe("");
  expect(created.status).toBe(0);
  const state = s.state(id);
  expect(state.status).toBe("created");
  const ctr = { mnt: readlinkSync(`/proc/${state.pid}/ns/mnt`), pidns: readlinkSync(`/proc/${state.pid}/ns/pid`) };
  expect(ctr.mnt).not.toBe(HOST.mnt);
  expect(ctr.pidns).not.toBe(HOST.pidns);
  // create runs prestart (in order), createRuntime, createContainer; the process has not run.
  expect(order(dir)).toEqual(["prestart0", "prestart1", "createRuntime0", "createContainer0"]);

  for (const label of ["prestart0", "prestart1", "createRuntime0"]) {
    const r = rec(dir, label);
    expect({ mnt: r.mnt, pidns: r.pidns }).toEqual(HOST); // the runtime namespace
    expect(r.stdin).toEqual({ ...state, status: "creating" });
    // after the config's mounts are made, before pivot_root: the bind mount is at <rootfs>/mnt
    expect(r.initmounts).toBe("1");
  }
  const cc = rec(dir, "createContainer0");
  expect({ mnt: cc.mnt, pidns: cc.pidns }).toEqual(ctr); // the container's namespaces...
  expect(cc.hostpath).toBe("yes"); // ...before pivot_root: host paths are still there
  expect(cc.containerview).toBe("no");
  expect(cc.stdin).toEqual({ ...state, status: "creating" });
  // argv: args as given; env: exactly the config's (the shell adds PWD and SHLVL), nothing of tsrun's
  expect(cc.argv).toBe(`createContainer0 ${dir}`);
  expect(cc.env.filter((e) => !/^(PWD|SHLVL|OLDPWD)=/.test(e))).toEqual(["HOOK_KIND=createContainer", `HOST_DIR=${dir}`, "PATH=/bin:/usr/bin"]);
  expect(rec(dir, "prestart0").env.filter((e) => !/^(PWD|SHLVL|OLDPWD)=/.test(e))).toEqual(["HOOK_KIND=prestart", `HOST_DIR=${dir}`, "PATH=/bin:/usr/bin"]);

  const started = tsrun(["start", id]);
  expect(started.stderr).toBe("");
  expect(started.status).toBe(0);
  waitFor(() => (order(dir).includes("process") ? true : undefined));
  const o = order(dir);
  expect(o.slice(0, 5)).toEqual(["prestart0", "prestart1", "createRuntime0", "createContainer0", "startContainer0"]);
  expect(o.slice(5).sort()).toEqual(["poststart0", "process"]);
  const sc = rec(dir, "startContainer0");
  expect({ mnt: sc.mnt, pidns: sc.pidns }).toEqual(ctr);
  expect(sc.hostpath).toBe("no"); // after pivot_root: the container's root
  expect(sc.containerview).toBe("yes");
  expect(sc.stdin).toEqual({ ...state, status: "created" });
  const ps = rec(dir, "poststart0");
  expect({ mnt: ps.mnt, pidns: ps.pidns }).toEqual(HOST);
  expect(ps.stdin).toEqual({ ...state, status: "running" });
  expect(ps.initmounts).toBe("0"); // after pivot_root the bind mount is at /mnt
  expect(s.state(id).status).toBe("running");

  expect(tsrun(["kill", id, "KILL"]).status).toBe(0);
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  expect(order(dir)).not.toContain("poststop0");
  const deleted = tsrun(["delete", id]);
  expect(deleted.stderr).toBe("");
  expect(deleted.status).toBe(0);
  expect(order(dir).slice(-1)).toEqual(["poststop0"]);
  const pst = rec(dir, "poststop0");
  expect({ mnt: pst.mnt, pidns: pst.pidns }).toEqual(HOST);
  expect(pst.stdin).toEqual({ ...state, status: "stopped", pid: 0 });
  expect(leftovers(s.root, [id])).toEqual([]);
});

test("run: the same hooks in the same order", () => {
  const dir = recordDir();
  const id = s.id("run");
  const r = tsrun(["run", "--bundle", bundleWith(dir, allKinds(dir)), id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const o = order(dir);
  expect(o.slice(0, 5)).toEqual(["prestart0", "prestart1", "createRuntime0", "createContainer0", "startContainer0"]);
  expect(o.slice(5, 7).sort()).toEqual(["poststart0", "process"]);
  expect(o.slice(7)).toEqual(["poststop0"]);
  const pid = rec(dir, "createContainer0").stdin.pid;
  expect(pid).toBeGreaterThan(0);
  for (const label of ["prestart0", "createRuntime0", "startContainer0", "poststart0"]) expect(rec(dir, label).stdin.pid).toBe(pid);
  expect(rec(dir, "poststop0").stdin).toMatchObject({ id, status: "stopped", pid: 0 });
  expect(leftovers(s.root, [id])).toEqual([]);
});

const MSG = (kind: Kind, i: number, path: string) => `/hooks/${kind}/${i}: ${path} exited with status 3: boom ${kind}`;

test.each(["prestart", "createRuntime", "createContainer"] as const)("a failing %s hook fails create, leaves nothing behind, and poststop runs", (kind) => {
  const dir = recordDir();
  const id = s.id(`fail-${kind}`);
  const hooks: Partial<Record<Kind, object[]>> = { ...allKinds(dir) };
  hooks[kind] = [recorder(kind, `${kind}0`, dir), failing(kind), recorder(kind, `${kind}2`, dir)];
  const r = tsrun(["create", "--bundle", bundleWith(dir, hooks), id]);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe(`tsrun: ${MSG(kind, 1, HOST_BUSYBOX)}\n`);
  expect(leftovers(s.root, [id])).toEqual([]);
  const o = order(dir);
  expect(o).toContain(`${kind}0`);
  expect(o).not.toContain(`${kind}2`); // the hooks after a failing one do not run
  expect(o).not.toContain("startContainer0");
  expect(o).not.toContain("process");
  // The container is destroyed (runtime.md: the lifecycle goes on at destroy): poststop, last.
  expect(o.slice(-1)).toEqual(["poststop0"]);
  expect(rec(dir, "poststop0").stdin).toMatchObject({ id, status: "stopped", pid: 0 });
});

test.each(["startContainer", "poststart"] as const)("a failing %s hook fails start with its message; the container is stopped; run leaves nothing", (kind) => {
  const dir = recordDir();
  const path = kind === "startContainer" ? "/bin/busybox" : HOST_BUSYBOX;
  const hooks = { ...allKinds(dir), [kind]: [failing(kind)] };
  const id = s.id(`fail-${kind}`);
  expect(tsrun(["create", "--bundle", bundleWith(dir, hooks, "exec sleep 30"), id]).status).toBe(0);
  const r = tsrun(["start", id]);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe(`tsrun: cannot start container ${id}: ${MSG(kind, 0, path)}\n`);
  // startContainer: the process never ran; poststart: it was killed
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  if (kind === "startContainer") expect(order(dir)).not.toContain("process");
  expect(tsrun(["delete", id]).status).toBe(0);
  expect(leftovers(s.root, [id])).toEqual([]);

  const dir2 = recordDir();
  const id2 = s.id(`run-fail-${kind}`);
  const run = tsrun(["run", "--bundle", bundleWith(dir2, { ...allKinds(dir2), [kind]: [failing(kind)] }, "exec sleep 30"), id2]);
  expect(run.status).toBe(1);
  expect(run.stderr).toBe(`tsrun: cannot start container ${id2}: ${MSG(kind, 0, path)}\n`);
  expect(leftovers(s.root, [id2])).toEqual([]);
  expect(order(dir2).slice(-1)).toEqual(["poststop0"]);
});

test.each([
  ["createRuntime", "run by tsrun"],
  ["createContainer", "run by tsrun-init"],
] as const)("a %s hook (%s) that outlives its timeout is killed and fails create", (kind, _by) => {
  const dir = recordDir();
  const id = s.id(`timeout-${kind}`);
  // The hook writes its pid, then sleeps far past its timeout of 1 s.
  const hook = { path: HOST_BUSYBOX, args: ["sh", "-c", `echo $$ > ${dir}/hookpid; exec sleep 60`], env: ["PATH=/bin:/usr/bin"], timeout: 1 };
  const t0 = Date.now();
  const r = tsrun(["create", "--bundle", bundleWith(dir, { [kind]: [hook] }), id]);
  const took = Date.now() - t0;
  expect(r.status).toBe(1);
  expect(r.stderr).toBe(`tsrun: /hooks/${kind}/0: ${HOST_BUSYBOX} did not finish within 1 s (killed)\n`);
  expect(took).toBeGreaterThanOrEqual(1000);
  expect(took).toBeLessThan(20_000);
  expect(leftovers(s.root, [id])).toEqual([]);
  // createRuntime's hook ran on the host: its pid there must be gone (the container's die with its pid namespace)
  if (kind === "createRuntime") {
    const pid = readFileSync(join(dir, "hookpid"), "utf8").trim();
    expect(existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))).toBe(false);
  }
});

test("a hook that cannot be executed fails create with the path", () => {
  for (const kind of ["createRuntime", "createContainer"] as const) {
    const id = s.id(`noexec-${kind}`);
    const dir = recordDir();
    const r = tsrun(["create", "--bundle", bundleWith(dir, { [kind]: [{ path: "/nonexistent/hook" }] }), id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`tsrun: /hooks/${kind}/0: cannot execute /nonexistent/hook: No such file or directory\n`);
    expect(leftovers(s.root, [id])).toEqual([]);
  }
});

test("a hook that leaves a background process holding its stderr does not hold up create", () => {
  for (const kind of ["createRuntime", "createContainer"] as const) {
    const dir = recordDir();
    const id = s.id(`bg-${kind}`);
    // The background sleep keeps the hook's stdout and stderr open for 60 s after the hook exits: a create
    // that waited for it would take a minute, far beyond any load's slowness.
    const hook = { path: HOST_BUSYBOX, args: ["sh", "-c", `sleep 60 & echo $! > ${dir}/bgpid; echo bye >&2`], env: ["PATH=/bin:/usr/bin"] };
    const t0 = Date.now();
    const r = tsrun(["create", "--bundle", bundleWith(dir, { [kind]: [hook] }), id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(tsrun(["delete", "--force", id]).status).toBe(0);
    expect(leftovers(s.root, [id])).toEqual([]);
    // createRuntime's background process is on the host, outside the container: it is the hook's business; end it
    if (kind === "createRuntime") {
      try {
        process.kill(Number(readFileSync(join(dir, "bgpid"), "utf8")), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});

test("a failing poststop hook only warns: delete succeeds, removes everything, and runs the next poststop hook", () => {
  const dir = recordDir();
  const id = s.id("poststop");
  const b = bundleWith(dir, { poststop: [failing("poststop"), recorder("poststop", "poststop1", dir)] });
  const r = tsrun(["run", "--bundle", b, id]);
  expect(r.status).toBe(0);
  expect(r.stderr).toBe(`tsrun: warning: ${MSG("poststop", 0, HOST_BUSYBOX)}\n`);
  expect(order(dir)).toEqual(["process", "poststop1"]);
  expect(tsrun(["state", id]).stderr).toContain("does not exist");
  expect(leftovers(s.root, [id])).toEqual([]);
});

test("while startContainer hooks run the container is still created; running once start returns", async () => {
  const dir = recordDir();
  const id = s.id("slowstart");
  const slow = recorder("startContainer", "startContainer0", dir);
  slow.args[2] = `${RECORD}\nsleep 1`;
  const b = bundleWith(dir, { startContainer: [slow] }, "exec sleep 30");
  expect(tsrun(["create", "--bundle", b, id]).status).toBe(0);
  const start = spawn(TSRUN, ["--root", s.root, "start", id], { env: {}, stdio: "ignore" });
  const done = new Promise<number | null>((res) => start.once("exit", (code) => res(code)));
  await waitForAsync(() => order(dir).includes("startContainer0"));
  expect(s.state(id).status).toBe("created");
  expect(await done).toBe(0);
  expect(s.state(id).status).toBe("running");
  expect(tsrun(["delete", "--force", id]).status).toBe(0);
  expect(leftovers(s.root, [id])).toEqual([]);
});

async function waitForAsync(fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}
