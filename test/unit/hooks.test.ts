/**
 * src/hooks/: hook records for tsrun-init, where buildPlan puts them, the hook runner of the runtime
 * namespace (real processes: /bin/sh), and the messages a failing hook produces.
 */
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { HookError } from "../../src/errors.js";
import { features } from "../../src/cli/features.js";
import { HOOK_KINDS, hookArgv, hookName } from "../../src/hooks/kinds.js";
import { planHooks, SLOT_STATE_CREATED, SLOT_STATE_CREATING } from "../../src/hooks/plan.js";
import { envObject, hookFailure, runHooks } from "../../src/hooks/run.js";
import { ociState } from "../../src/lifecycle/state.js";
import { type PlanInput, type PlanSpec, SYNC_HOOKS, SYNC_SETUP, buildPlan } from "../../src/plan/build.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import type { ContainerRecord } from "../../src/state/store.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8")) as PlanSpec;

let dir: string;
let rootfs: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tsrun-hooks-test-"));
  rootfs = join(dir, "rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(hooks: PlanSpec["hooks"], over: Partial<PlanInput> = {}) {
  const s = JSON.parse(JSON.stringify(BUSYBOX));
  s.hooks = hooks;
  return buildPlan({
    spec: s, rootfs, bundle: dir, fifoPath: "/run/tsrun/c1/exec.fifo", noPivot: false, preserveFds: 0, foreground: false,
    cgroupMounts: cgroupMountsOf("/tsrun/c1", []), cgroupJoin: { cloneInto: "", selfTasks: [] }, hostCaps: (1n << 41n) - 1n, lastCap: 40,
    ...over,
  });
}
const ops = (recs: PlanRecord[]) => recs.map((r) => r.op);
const at = (recs: PlanRecord[], pred: (r: PlanRecord) => boolean) => recs.findIndex(pred);

describe("hook records (HOOK)", () => {
  test("argv is args as given (args[0] is argv[0]), or the path alone; env exact; timeout 0 = none", () => {
    expect(hookArgv({ path: "/bin/x" })).toEqual(["/bin/x"]);
    expect(hookArgv({ path: "/bin/x", args: [] })).toEqual(["/bin/x"]);
    expect(hookArgv({ path: "/bin/busybox", args: ["sh", "-c", "true"] })).toEqual(["sh", "-c", "true"]);
    const recs = planHooks("createContainer", [{ path: "/bin/busybox", args: ["sh", "-c", "exit 0"], env: ["A=1", "B"], timeout: 7 }, { path: "/h" }], SLOT_STATE_CREATING);
    expect(recs).toEqual([
      { op: Op.HOOK, ints: [7, 3, 0], strs: ["/hooks/createContainer/0", "/bin/busybox", "sh", "-c", "exit 0", "A=1", "B"] },
      { op: Op.HOOK, ints: [0, 1, 0], strs: ["/hooks/createContainer/1", "/h", "/h"] },
    ]);
    expect(planHooks("startContainer", [{ path: "/h" }], SLOT_STATE_CREATED)[0].ints![2]).toBe(1);
  });

  test("names are the hook's JSON path; every kind is listed in lifecycle order and by features", () => {
    expect(hookName("poststop", 2)).toBe("/hooks/poststop/2");
    expect(HOOK_KINDS).toEqual(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
    expect(features().hooks).toEqual([...HOOK_KINDS]);
  });
});

describe("buildPlan: hook points", () => {
  test("without hooks: one sync point, no HOOK record, no state slots", () => {
    const p = build(undefined);
    expect(p.records.filter((r) => r.op === Op.SYNC).map((r) => r.strs![0])).toEqual([SYNC_SETUP]);
    expect(ops(p.records)).not.toContain(Op.HOOK);
    expect(p.stateSlots).toEqual([]);
    expect(p.hooksSyncTag).toBeUndefined();
  });

  test("prestart/createRuntime: a second sync point after every config mount, right before pivot_root; createContainer after it", () => {
    const p = build({ createRuntime: [{ path: "/r" }], createContainer: [{ path: "/c" }] });
    const recs = p.records;
    expect(p.hooksSyncTag).toBe(SYNC_HOOKS);
    const sync = at(recs, (r) => r.op === Op.SYNC && r.strs![0] === SYNC_HOOKS);
    const hook = at(recs, (r) => r.op === Op.HOOK);
    const pivot = at(recs, (r) => r.op === Op.PIVOT_ROOT);
    const lastMount = recs.map((r, i) => (r.op === Op.MOUNT && r.strs![1] !== "/" ? i : -1)).filter((i) => i < pivot).pop()!;
    expect(lastMount).toBeLessThan(sync);
    expect(sync).toBeLessThan(hook);
    expect(hook).toBe(pivot - 1);
    expect(recs[hook].strs!.slice(0, 2)).toEqual(["/hooks/createContainer/0", "/c"]);
    // run in the root filesystem's directory, as runc runs them (not in the caller's cwd)
    expect(recs[hook - 1]).toEqual({ op: Op.CHDIR, strs: [rootfs] });
    expect(sync).toBe(hook - 2);
    // createContainer reads the "creating" state from slot 0, which the setup sync fills
    expect(p.stateSlots).toEqual([{ slot: SLOT_STATE_CREATING, status: "creating" }]);
  });

  test("prestart alone also makes the second sync point; createContainer alone does not", () => {
    expect(build({ prestart: [{ path: "/p" }] }).hooksSyncTag).toBe(SYNC_HOOKS);
    const p = build({ createContainer: [{ path: "/c" }] });
    expect(p.hooksSyncTag).toBeUndefined();
    expect(p.records.filter((r) => r.op === Op.SYNC)).toHaveLength(1);
  });

  test("--no-pivot: the hook point is right before the host's procfs and sysfs are detached and the root moved", () => {
    const recs = build({ createContainer: [{ path: "/c" }] }, { noPivot: true }).records;
    expect(at(recs, (r) => r.op === Op.HOOK)).toBe(at(recs, (r) => r.op === Op.DETACH_PSEUDO_FS) - 1);
    expect(at(recs, (r) => r.op === Op.DETACH_PSEUDO_FS)).toBe(at(recs, (r) => r.op === Op.MOVE_ROOT) - 1);
    expect(recs[at(recs, (r) => r.op === Op.HOOK) - 1]).toEqual({ op: Op.CHDIR, strs: [rootfs] });
    // without createContainer hooks there is nothing to run there: no such CHDIR
    expect(build(undefined).records.filter((r) => r.op === Op.CHDIR)).toHaveLength(1);
  });

  test("a joined mount namespace gets its root built and pivoted like a new one (runc): the hook point is right before the pivot", () => {
    const s = JSON.parse(JSON.stringify(BUSYBOX));
    s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === "mount" ? { type: "mount", path: "/proc/1/ns/mnt" } : n));
    s.hooks = { createRuntime: [{ path: "/r" }], createContainer: [{ path: "/c" }] };
    const recs = build(undefined, { spec: s }).records;
    const sync = at(recs, (r) => r.op === Op.SYNC && r.strs![0] === SYNC_HOOKS);
    expect(sync).toBeGreaterThan(at(recs, (r) => r.op === Op.SYNC && r.strs![0] === SYNC_SETUP));
    // in the rootfs's directory, as with a new mount namespace (runc chdirs there before these hooks)
    expect(recs[sync + 1]).toEqual({ op: Op.CHDIR, strs: [rootfs] });
    expect(at(recs, (r) => r.op === Op.HOOK)).toBe(sync + 2);
    expect(at(recs, (r) => r.op === Op.PIVOT_ROOT)).toBe(sync + 3);
  });

  test("no mount namespace: the hook point is right before the chroot", () => {
    const s = JSON.parse(JSON.stringify(BUSYBOX));
    s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== "mount");
    delete s.linux.maskedPaths;
    delete s.linux.readonlyPaths;
    s.hooks = { createContainer: [{ path: "/c" }] };
    const recs = build(undefined, { spec: s }).records;
    expect(at(recs, (r) => r.op === Op.HOOK)).toBe(at(recs, (r) => r.op === Op.CHROOT) - 1);
  });

  test("startContainer: after WAIT_FIFO, before STARTED and EXEC, with the created state of slot 1", () => {
    const p = build({ startContainer: [{ path: "/s1" }, { path: "/s2" }] });
    expect(ops(p.records).slice(-6)).toEqual([Op.READY, Op.WAIT_FIFO, Op.HOOK, Op.HOOK, Op.STARTED, Op.EXEC]);
    expect(p.records.slice(-4, -2).map((r) => r.strs![0])).toEqual(["/hooks/startContainer/0", "/hooks/startContainer/1"]);
    expect(p.stateSlots).toEqual([{ slot: SLOT_STATE_CREATED, status: "created" }]);
  });

  test("poststart and poststop are not in the plan (tsrun start and delete run them)", () => {
    const p = build({ poststart: [{ path: "/a" }], poststop: [{ path: "/b" }] });
    expect(ops(p.records)).not.toContain(Op.HOOK);
    expect(p.hooksSyncTag).toBeUndefined();
  });
});

describe("hook failure messages", () => {
  const h = { path: "/usr/bin/x", timeout: 5 };
  const ok = { status: 0, signal: null, stderr: "" };
  test("success is no failure", () => {
    expect(hookFailure("/hooks/poststart/0", h, ok)).toBeUndefined();
  });
  test("exit status with trimmed stderr on one line", () => {
    expect(hookFailure("/hooks/createRuntime/0", h, { ...ok, status: 3, stderr: "  no\nway \n" })).toBe("/hooks/createRuntime/0: /usr/bin/x exited with status 3: no way");
    expect(hookFailure("/hooks/createRuntime/1", h, { ...ok, status: 1 })).toBe("/hooks/createRuntime/1: /usr/bin/x exited with status 1");
  });
  test("signal, timeout, execve errors", () => {
    expect(hookFailure("/hooks/prestart/0", h, { ...ok, status: null, signal: "SIGSEGV" })).toBe("/hooks/prestart/0: /usr/bin/x was killed by signal 11 (SIGSEGV)");
    expect(hookFailure("/hooks/prestart/0", h, { ...ok, status: null, signal: "SIGKILL", errorCode: "ETIMEDOUT" })).toBe("/hooks/prestart/0: /usr/bin/x did not finish within 5 s (killed)");
    expect(hookFailure("/hooks/prestart/0", h, { ...ok, status: null, errorCode: "ENOENT" })).toBe("/hooks/prestart/0: cannot execute /usr/bin/x: No such file or directory");
  });
  test("a long stderr is cut", () => {
    const msg = hookFailure("/hooks/poststop/0", h, { ...ok, status: 2, stderr: "e".repeat(10000) })!;
    expect(msg.length).toBeLessThan(2200);
  });
  test("env list -> object", () => {
    expect(envObject(["A=1", "B=x=y", "C"])).toEqual({ A: "1", B: "x=y", C: "" });
  });
});

describe("runHooks (runtime namespace)", () => {
  const state = ociState(
    { ociVersion: "1.2.0", id: "c1", bundle: "/b", rootfs: "/b/rootfs", created: "2026-01-01T00:00:00.000Z", owner: "root", annotations: { a: "b" }, status: "created", pid: 42, pidStartTime: 1, creatorPid: 1, creatorStartTime: 1, cgroupPath: "/tsrun/c1", cgroupCreated: [], hasProcess: true } as ContainerRecord,
    "creating",
  );
  test("the state JSON on stdin; exactly args and env; hooks in order", () => {
    const out = join(dir, "run1");
    process.env.TSRUN_TEST_LEAK = "leak";
    try {
      runHooks("createRuntime", [
        // argv[0] as the kernel has it (sh's $0 is the argument after the script)
        { path: "/bin/sh", args: ["first", "-c", `echo "$(head -c 5 /proc/$$/cmdline) $0 $(cat)" > ${out}; env >> ${out}`, "arg1"], env: ["ONLY=this"] },
        { path: "/bin/sh", args: ["second", "-c", `echo second >> ${out}`] },
      ], state);
    } finally {
      delete process.env.TSRUN_TEST_LEAK;
    }
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0]).toBe(`first arg1 ${JSON.stringify(state)}`);
    expect(JSON.parse(lines[0].slice("first arg1 ".length))).toEqual({ ...state, status: "creating", pid: 42 });
    expect(lines).toContain("ONLY=this");
    expect(lines.join("\n")).not.toContain("TSRUN_TEST_LEAK");
    expect(lines[lines.length - 1]).toBe("second");
  });

  test("a failing hook throws a HookError naming it; the hooks after it do not run", () => {
    const out = join(dir, "run2");
    const run = () => runHooks("poststart", [{ path: "/bin/true" }, { path: "/bin/sh", args: ["sh", "-c", "echo bad >&2; exit 4"] }, { path: "/bin/sh", args: ["sh", "-c", `touch ${out}`] }], state);
    expect(run).toThrow(HookError);
    expect(run).toThrow("/hooks/poststart/1: /bin/sh exited with status 4: bad");
    expect(() => readFileSync(out)).toThrow();
  });

  test("the timeout kills the hook", () => {
    const t0 = Date.now();
    expect(() => runHooks("prestart", [{ path: "/bin/sleep", args: ["sleep", "20"], timeout: 1 }], state)).toThrow("/hooks/prestart/0: /bin/sleep did not finish within 1 s (killed)");
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test("a hook that does not read its stdin is fine; a missing one is an error", () => {
    expect(() => runHooks("poststop", [{ path: "/bin/true" }], { big: "x".repeat(1 << 20) })).not.toThrow();
    expect(() => runHooks("poststop", [{ path: "/nonexistent/hook" }], state, 3)).toThrow("/hooks/poststop/3: cannot execute /nonexistent/hook: No such file or directory");
  });
});

test("runHooks does not wait for a background process the hook left holding its stderr", () => {
  const t0 = Date.now();
  expect(() => runHooks("poststart", [{ path: "/bin/sh", args: ["sh", "-c", "sleep 5 & echo started >&2; exit 2"] }], {})).toThrow(
    "/hooks/poststart/0: /bin/sh exited with status 2: started",
  );
  expect(Date.now() - t0).toBeLessThan(4000);
});
