/**
 * exec: the process built from runc's flags (src/plan/exec-process.ts), the launch plan that joins a
 * running container (src/plan/exec-plan.ts), and how the CLI reads exec's arguments.
 */
import { parseVerbArgs } from "../../src/cli/args.js";
import { findVerb } from "../../src/cli/commands.js";
import { UsageError } from "../../src/errors.js";
import { decodePlan, encodePlan } from "../../src/launch/encode.js";
import { type ExecPlanInput, buildExecPlan } from "../../src/plan/exec-plan.js";
import { dedupeEnv, execProcessFromFlags, processFlagsGiven } from "../../src/plan/exec-process.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import { compileSeccomp } from "../../src/security/seccomp/compile.js";
import type { Process } from "../../src/spec/types.js";
import { fieldOf } from "../helpers/config-error.js";

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NEWTIME = 0x00000080;
const ALL_CAPS = (1n << 41n) - 1n;

const BASE: Process = {
  terminal: true,
  user: { uid: 0, gid: 0, additionalGids: [10] },
  args: ["/bin/sh", "/demo.sh"],
  env: ["PATH=/usr/bin:/bin", "TERM=xterm"],
  cwd: "/",
  capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"], inheritable: [], ambient: ["CAP_KILL"] },
  noNewPrivileges: true,
};

const ns = (type: string, name = type) => ({ type, path: `/proc/42/ns/${name}` });
const ALL_NS = [ns("mount", "mnt"), ns("network", "net"), ns("cgroup"), ns("user"), ns("uts"), ns("ipc"), ns("pid"), ns("time", "time_for_children")];

function planInput(over: Partial<ExecPlanInput> = {}): ExecPlanInput {
  return {
    process: { ...BASE, terminal: false, args: ["ps"] },
    namespaces: ALL_NS,
    cgroupJoin: { cloneInto: "/sys/fs/cgroup/unified/tsrun/c1", selfTasks: ["/sys/fs/cgroup/cpu/tsrun/c1/tasks", "/sys/fs/cgroup/memory/tsrun/c1/tasks"] },
    hostCaps: ALL_CAPS,
    lastCap: 40,
    preserveFds: 0,
    foreground: true,
    ...over,
  };
}

function plan(over: Partial<ExecPlanInput> = {}): PlanRecord[] {
  return buildExecPlan(planInput(over)).records;
}

const ops = (recs: PlanRecord[]) => recs.map((r) => r.op);
const at = (recs: PlanRecord[], op: Op) => recs.findIndex((r) => r.op === op);

describe("the exec plan", () => {
  test("stage 0 joins the pid and time namespaces, then clones into the cgroup v2 directory", () => {
    const recs = plan();
    expect(recs[0]).toEqual({ op: Op.JOIN_NAMESPACES, ints: [CLONE_NEWPID, CLONE_NEWTIME], strs: ["/proc/42/ns/pid", "/proc/42/ns/time_for_children"] });
    expect(recs[1]).toEqual({ op: Op.CLONE, ints: [0, 1], strs: ["/sys/fs/cgroup/unified/tsrun/c1"] });
  });

  test("the child moves itself into the v1 cgroups, then joins user first and mount last, then waits at SYNC", () => {
    const recs = plan();
    const clone = at(recs, Op.CLONE);
    expect(recs.slice(clone + 1, clone + 5)).toEqual([
      { op: Op.WRITE_FILE, strs: ["/sys/fs/cgroup/cpu/tsrun/c1/tasks", "0"] },
      { op: Op.WRITE_FILE, strs: ["/sys/fs/cgroup/memory/tsrun/c1/tasks", "0"] },
      {
        op: Op.JOIN_NAMESPACES,
        ints: [CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWNS],
        strs: ["/proc/42/ns/user", "/proc/42/ns/ipc", "/proc/42/ns/uts", "/proc/42/ns/net", "/proc/42/ns/cgroup", "/proc/42/ns/mnt"],
      },
      { op: Op.SYNC, strs: ["exec"] },
    ]);
  });

  test("then the process records, fds closed on exec, the lookup, ready and exec; no exec fifo", () => {
    const recs = plan({ preserveFds: 2 });
    const tail = ops(recs.slice(at(recs, Op.SYNC) + 1));
    expect(tail).toEqual([
      Op.SETSID, Op.CLOEXEC_FROM, Op.UMASK, Op.CHDIR, Op.CAP_BOUNDING, Op.PRCTL, Op.SETUSER, Op.CHDIR_RETRY, Op.PRCTL, Op.CAPSET, Op.NO_NEW_PRIVS,
      Op.FIND_EXEC, Op.READY, Op.EXEC,
    ]);
    expect(recs.find((r) => r.op === Op.CLOEXEC_FROM)!.ints).toEqual([5]);
    expect(ops(recs)).not.toContain(Op.WAIT_FIFO);
    expect(ops(recs)).not.toContain(Op.OPEN_FIFO);
    expect(recs.at(-1)).toEqual({ op: Op.EXEC, ints: [1], strs: ["ps", "PATH=/usr/bin:/bin", "TERM=xterm", "HOME=/"] });
  });

  test("in a joined user namespace that maps root, the process becomes that root right after the sync", () => {
    const recs = plan({ usernsRoot: true });
    expect(recs[at(recs, Op.SYNC) + 1]).toEqual({ op: Op.SETRESID, ints: [0, 0] });
    expect(at(recs, Op.SETRESID)).toBeLessThan(at(recs, Op.CHDIR));
    // no user namespace of the container's own, or one without root: nothing to become
    expect(ops(plan({ usernsRoot: true, namespaces: [ns("mount", "mnt")] }))).not.toContain(Op.SETRESID);
    expect(ops(plan({ usernsRoot: false }))).not.toContain(Op.SETRESID);
  });

  test("--detach: stage 0 does not wait", () => {
    expect(plan({ foreground: false }).find((r) => r.op === Op.CLONE)!.ints).toEqual([0, 0]);
  });

  test("namespaces shared with tsrun are not joined; none at all means no JOIN record", () => {
    const recs = plan({ namespaces: [ns("mount", "mnt")] });
    expect(recs.filter((r) => r.op === Op.JOIN_NAMESPACES)).toEqual([{ op: Op.JOIN_NAMESPACES, ints: [CLONE_NEWNS], strs: ["/proc/42/ns/mnt"] }]);
    expect(recs[0].op).toBe(Op.CLONE);
    expect(ops(plan({ namespaces: [] }))).not.toContain(Op.JOIN_NAMESPACES);
  });

  test("a host without cgroup v2 clones plainly; oomScoreAdj is written by stage 0 before it joins a namespace (the child inherits it)", () => {
    const recs = plan({ cgroupJoin: { cloneInto: "", selfTasks: [] }, process: { ...BASE, args: ["ps"], oomScoreAdj: 300 } as ExecPlanInput["process"] });
    expect(recs.find((r) => r.op === Op.CLONE)!.strs).toEqual([""]);
    const oom = recs.findIndex((r) => r.op === Op.PROCFS_WRITE && r.strs![0] === "self/oom_score_adj");
    expect(recs[oom].strs).toEqual(["self/oom_score_adj", "300", "/process/oomScoreAdj", " (a value below the one tsrun inherited needs CAP_SYS_RESOURCE)"]);
    expect(oom).toBeLessThan(at(recs, Op.CLONE));
    expect(oom).toBeLessThan(at(recs, Op.JOIN_NAMESPACES));
    // The procfs handle is opened first, before any namespace is joined (the container's /proc is never used).
    expect(recs[0]).toEqual({ op: Op.PROCFS_OPEN });
    expect(recs[oom + 1]).toEqual({ op: Op.PROCFS_CLOSE });
  });

  test("records of other steps (the terminal) go in before CLONE, and after SYNC once the child leads its session", () => {
    const mark0: PlanRecord = { op: Op.UMASK, ints: [0o77] };
    const mark1: PlanRecord = { op: Op.UMASK, ints: [0o7] };
    const recs = plan({ stage0: [mark0], joined: [mark1] });
    expect(recs[0]).toBe(mark0);
    expect(recs[at(recs, Op.SYNC) + 1].op).toBe(Op.SETSID);
    expect(recs[at(recs, Op.SYNC) + 2]).toBe(mark1);
  });

  test("the plan encodes, and JOIN_NAMESPACES carries one type per path", () => {
    for (const r of decodePlan(encodePlan(plan()))) {
      if (r.op === Op.JOIN_NAMESPACES) expect(r.ints!.length).toBe(r.strs!.length);
    }
  });

  test("process errors name the field under the given base path", () => {
    expect(fieldOf(() => plan({ field: "", process: { ...BASE, cwd: "tmp" } }))).toBe("/cwd");
    expect(fieldOf(() => plan({ process: { ...BASE, capabilities: { bounding: ["CAP_NOPE"] } } }))).toBe("/process/capabilities/bounding/0");
    const noResource = { field: "", hostCaps: ALL_CAPS & ~(1n << 24n), process: { ...BASE, capabilities: { permitted: ["CAP_SYS_RESOURCE"] } } };
    const hostUserNs = ALL_NS.filter((n) => n.type !== "user");
    expect(fieldOf(() => plan({ ...noResource, namespaces: hostUserNs }))).toBe("/capabilities/permitted");
    // In the container's own user namespace every capability of that namespace can be held.
    expect(() => plan(noResource)).not.toThrow();
  });

  test("the container's session keyring is joined after the sync point, unless it has none", () => {
    const recs = plan({ sessionKeyring: "c1" });
    const k = recs.findIndex((r) => r.op === Op.SESSION_KEYRING);
    expect(recs[k].strs).toEqual(["_ses.c1"]);
    expect(k).toBeGreaterThan(at(recs, Op.SETSID));
    expect(ops(plan())).not.toContain(Op.SESSION_KEYRING);
  });
});

describe("the process from runc's flags", () => {
  test("the config's process with the command; no terminal unless --tty; the config is not changed", () => {
    const p = execProcessFromFlags(BASE, { args: ["ls", "-l"] });
    expect(p.args).toEqual(["ls", "-l"]);
    expect(p.terminal).toBe(false);
    expect(execProcessFromFlags(BASE, { args: ["sh"], tty: true }).terminal).toBe(true);
    expect(BASE.args).toEqual(["/bin/sh", "/demo.sh"]);
    expect(() => execProcessFromFlags(BASE, { args: [] })).toThrow(UsageError);
  });

  test("--env replaces a variable in place or appends it; each name once, the last value wins", () => {
    expect(execProcessFromFlags(BASE, { args: ["env"], env: ["PATH=/bin", "A=1", "A=2"] }).env).toEqual(["PATH=/bin", "TERM=xterm", "A=2"]);
    expect(dedupeEnv(["A=1", "B=2", "A=3", "C=", "B=4"])).toEqual(["A=3", "B=4", "C="]);
    expect(() => execProcessFromFlags(BASE, { args: ["env"], env: ["NOVALUE"] })).toThrow(/--env "NOVALUE": must be NAME=VALUE/);
    expect(() => execProcessFromFlags(BASE, { args: ["env"], env: ["=x"] })).toThrow(UsageError);
  });

  test("--user uid[:gid] and --additional-gids; bad numbers are one clear error", () => {
    const p = execProcessFromFlags(BASE, { args: ["id"], user: "1000:1001", additionalGids: ["5", "7"] });
    expect(p.user).toEqual({ uid: 1000, gid: 1001, additionalGids: [10, 5, 7] });
    expect(execProcessFromFlags(BASE, { args: ["id"], user: "33" }).user).toEqual({ uid: 33, gid: 0, additionalGids: [10] });
    for (const bad of ["abc", "1:x", ":5", "1:2:3", "-1", "4294967295"]) {
      expect(() => execProcessFromFlags(BASE, { args: ["id"], user: bad })).toThrow(UsageError);
      expect(() => execProcessFromFlags(BASE, { args: ["id"], user: bad })).toThrow(`--user "${bad}"`);
    }
    expect(() => execProcessFromFlags(BASE, { args: ["id"], additionalGids: ["x"] })).toThrow(/--additional-gids "x"/);
  });

  test("--cap goes to bounding, effective, permitted and ambient, not inheritable (as runc 1.1.2+)", () => {
    const caps = execProcessFromFlags(BASE, { args: ["sh"], caps: ["CAP_SYS_ADMIN", "CAP_KILL"] }).capabilities!;
    for (const set of ["bounding", "effective", "permitted", "ambient"] as const) expect(caps[set]).toEqual(["CAP_KILL", "CAP_SYS_ADMIN"]);
    expect(caps.inheritable).toEqual([]);
    expect(() => execProcessFromFlags(BASE, { args: ["sh"], caps: ["SYS_ADMIN"] })).toThrow(/--cap "SYS_ADMIN": unknown capability/);
    // No capabilities object: the process keeps every capability, there is nothing to add to.
    expect(execProcessFromFlags({ ...BASE, capabilities: undefined }, { args: ["sh"], caps: ["CAP_SYS_ADMIN"] }).capabilities).toBeUndefined();
  });

  test("--cwd must be absolute; --no-new-privs both ways; --apparmor and --process-label set the fields", () => {
    expect(execProcessFromFlags(BASE, { args: ["pwd"], cwd: "/tmp" }).cwd).toBe("/tmp");
    expect(() => execProcessFromFlags(BASE, { args: ["pwd"], cwd: "tmp" })).toThrow(/--cwd "tmp": must be an absolute path/);
    expect(execProcessFromFlags(BASE, { args: ["sh"], noNewPrivs: false }).noNewPrivileges).toBe(false);
    expect(execProcessFromFlags({ ...BASE, noNewPrivileges: false }, { args: ["sh"], noNewPrivs: true }).noNewPrivileges).toBe(true);
    expect(execProcessFromFlags(BASE, { args: ["sh"] }).noNewPrivileges).toBe(true);
    const p = execProcessFromFlags(BASE, { args: ["sh"], apparmor: "prof", processLabel: "lbl" });
    expect([p.apparmorProfile, p.selinuxLabel]).toEqual(["prof", "lbl"]);
  });

  test("the flags that a --process file makes meaningless are named", () => {
    expect(processFlagsGiven({ args: [], tty: true })).toEqual([]);
    expect(processFlagsGiven({ args: [], env: ["A=1"], cwd: "/", user: "1", caps: ["CAP_KILL"], noNewPrivs: false })).toEqual(["--env", "--cwd", "--user", "--cap", "--no-new-privs"]);
  });
});

describe("exec's arguments", () => {
  const exec = findVerb("exec")!;

  test("flags end at the container id: the command keeps its own flags", () => {
    const a = parseVerbArgs(exec, ["-d", "--pid-file", "/p", "c1", "ls", "-l", "--all"]);
    expect(a.flags).toMatchObject({ detach: true, "pid-file": "/p" });
    expect(a.positionals).toEqual(["c1", "ls", "-l", "--all"]);
    expect(parseVerbArgs(exec, ["--", "c1", "-x"]).positionals).toEqual(["c1", "-x"]);
  });

  test("list flags collect every value in order, with short aliases", () => {
    const a = parseVerbArgs(exec, ["-e", "A=1", "--env=B=2", "--cap", "CAP_KILL", "-c", "CAP_CHOWN", "-g", "5", "c1", "sh"]);
    expect(a.lists).toEqual({ env: ["A=1", "B=2"], cap: ["CAP_KILL", "CAP_CHOWN"], "additional-gids": ["5"] });
    expect(parseVerbArgs(exec, ["c1", "sh"]).lists).toEqual({});
  });

  test("runc's flags are all there", () => {
    const names = exec.flags.map((f) => f.name);
    for (const f of ["process", "detach", "pid-file", "tty", "console-socket", "env", "cwd", "user", "additional-gids", "cap", "no-new-privs", "apparmor", "process-label", "preserve-fds"]) {
      expect(names).toContain(f);
    }
  });
});

describe("seccomp in the exec plan", () => {
  const filter = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] });

  test("with no_new_privs the filter is loaded once everything is checked, right before READY; the listener is connected in stage 0", () => {
    const recs = plan({ process: { ...BASE, terminal: false, noNewPrivileges: true }, seccomp: filter });
    expect(ops(recs.slice(-4))).toEqual([Op.FIND_EXEC, Op.SECCOMP, Op.READY, Op.EXEC]);
    expect(at(recs, Op.SECCOMP_LISTENER)).toBeLessThan(at(recs, Op.CLONE));
    const p = buildExecPlan({ ...planInput(), seccomp: filter });
    expect(p.seccompListener).toEqual({ slot: 2 });
  });

  test("without no_new_privs it is loaded before the user and capabilities change", () => {
    const recs = plan({ process: { ...BASE, terminal: false, noNewPrivileges: false }, seccomp: filter });
    expect(at(recs, Op.SECCOMP)).toBeLessThan(at(recs, Op.SETUSER));
    expect(at(recs, Op.SECCOMP)).toBeGreaterThan(at(recs, Op.SYNC));
  });
});
