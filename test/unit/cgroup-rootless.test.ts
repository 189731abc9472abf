/**
 * Rootless cgroups (issue 16): what create plans from the host facts (can the caller make and join the
 * cgroup, where relative paths go), what the verbs say about a container with no cgroup of its own, and
 * the cgroup v2 driver working from a delegated directory. Fake facts and scratch trees: no root needed,
 * nothing of the host's cgroups is read or written.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CgroupAccess, commonAncestor, ownCgroupV2, rootlessCgroupBase } from "../../src/cgroups/access.js";
import { cgroupDriver } from "../../src/cgroups/driver.js";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { NO_CGROUP, cgroupMembers, requireOwnCgroup } from "../../src/cgroups/members.js";
import { cgroupPathFor } from "../../src/cgroups/path.js";
import { ConfigError, ContainerStateError } from "../../src/errors.js";
import { type CreatePlanInput, planCreate } from "../../src/plan/create-plan.js";
import { type ExecRequest, planExec } from "../../src/plan/exec-request.js";
import type { Rootless } from "../../src/security/rootless.js";
import { writePlanBundle } from "../helpers/plan-bundles.js";


const UNIFIED: CgroupHierarchy[] = [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }];
const HYBRID: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/cpu", version: 1, controllers: "cpu" },
  { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
  { mountPoint: "/sys/fs/cgroup/pids", version: 1, controllers: "pids" },
  { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
];
const USER: Rootless = { euid: 1500, egid: 1500, nonRootEuid: true, cgroups: true };
/** runc's `--rootless true` as host root: cgroups may not be writable, but the caller is root. */
const ROOT_FLAG: Rootless = { euid: 0, egid: 0, nonRootEuid: false, cgroups: true };
const BLOCKED: CgroupAccess = { writable: false, blocked: "/sys/fs/cgroup/memory", why: "cannot make /sys/fs/cgroup/memory/tsrun/c1 in it" };

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "tsrun-cgroup-rootless-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A bundle of the busybox config, edited (no resources unless the edit adds them), with an empty rootfs. */
function bundle(edit: (c: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  return writePlanBundle(join(work, `b${n++}`), (c) => {
    delete c.linux.resources;
    delete c.linux.cgroupsPath;
    // What `tsrun spec --rootless` gives uid 1500: a user namespace mapping it to root.
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: 1500, size: 1 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 1500, size: 1 }];
    edit(c);
  });
}

/** planCreate as a rootless caller with these facts; `asked` collects the paths the access probe was asked about. */
function plan(dir: string, facts: { rootless?: Rootless; access?: CgroupAccess; base?: string; hierarchies?: CgroupHierarchy[]; nestedUserNs?: boolean } = {}, asked: string[] = []) {
  const hierarchies = facts.hierarchies ?? HYBRID;
  const input: CreatePlanInput = {
    id: "c1",
    bundle: dir,
    stateDir: join(work, "state", "c1"),
    fifoPath: join(work, "state", "c1", "exec.fifo"),
    host: {
      cgroups: (path) => cgroupDriver(path, { hierarchies }),
      hostCaps: (1n << 41n) - 1n,
      lastCap: 40,
      isHostNetns: () => false,
      selinux: false,
      hostRoot: true,
      rootless: facts.rootless ?? ROOT_FLAG,
      cgroupAccess: (path) => {
        asked.push(path);
        return facts.access ?? { writable: true };
      },
      ...(facts.base !== undefined ? { rootlessCgroupBase: facts.base } : {}),
      ...(facts.nestedUserNs !== undefined ? { nestedUserNs: facts.nestedUserNs } : {}),
      idMapFacts: { euid: 1500, egid: 1500, subuids: [], subgids: [] },
    },
  };
  return planCreate(input);
}

/** The deny-all rule and the usual allows, as every manager's config has them. */
const DEVICE_RULES = [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 3, access: "rwm" }];

describe("create's cgroup plan for a rootless caller", () => {
  test("a writable cgroup: made and limited as for root", () => {
    const p = plan(bundle((c) => (c.linux.resources = { memory: { limit: 1 << 24 }, pids: { limit: 20 } })));
    expect(p.cgroup.path).toBe("/tsrun/c1");
    expect(p.cgroup.none).toBeUndefined();
    expect(p.cgroup.planned.dirs).toContain("/sys/fs/cgroup/memory/tsrun/c1");
    expect(p.cgroup.planned.writes.map((w) => w.file)).toEqual(expect.arrayContaining(["memory.limit_in_bytes", "pids.max"]));
    expect(p.cgroup.join.cloneInto).toBe("/sys/fs/cgroup/unified/tsrun/c1");
  });

  test("device rules: skipped for a caller without host root (a non-root euid, or root of a user namespace), kept for host root with --rootless true", () => {
    const b = bundle((c) => (c.linux.resources = { devices: DEVICE_RULES }));
    expect(plan(b, { rootless: USER }).cgroup.planned.devices).toEqual({ kind: "skipped", reason: expect.stringContaining("need host root") });
    expect(plan(b, { nestedUserNs: true }).cgroup.planned.devices).toEqual({ kind: "skipped", reason: expect.stringContaining("need host root") });
    expect(plan(b).cgroup.planned.devices.kind).toBe("bpf"); // HYBRID here has no v1 devices controller
  });

  test.each([
    ["no resources at all", () => {}],
    ["device rules only (every manager's deny-all)", (c: any) => (c.linux.resources = { devices: DEVICE_RULES })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ["empty sections", (c: any) => (c.linux.resources = { memory: {}, cpu: {} })], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])("not writable, %s: no cgroup of its own, nothing made or joined", (_what, edit) => {
    const p = plan(bundle(edit), { rootless: USER, access: BLOCKED });
    expect(p.cgroup.path).toBe(NO_CGROUP);
    expect(p.cgroup.none).toEqual({ reason: expect.stringContaining("/sys/fs/cgroup/memory is not writable by uid 1500"), wanted: "/tsrun/c1", named: false });
    expect(p.cgroup.planned).toMatchObject({ dirs: [], enable: [], writes: [] });
    expect(p.cgroup.planned.devices.kind).toBe("skipped");
    expect(p.cgroup.join).toEqual({ cloneInto: "", selfTasks: [], parentJoins: [] });
    expect(p.cgroup.resources).toBeUndefined();
  });

  test("not writable, a named cgroupsPath: no cgroup either, and the plan says it was named (create warns)", () => {
    const p = plan(bundle((c) => (c.linux.cgroupsPath = "/mine/c1")), { rootless: USER, access: BLOCKED });
    expect(p.cgroup.none).toMatchObject({ wanted: "/mine/c1", named: true });
  });

  test.each([
    [{ memory: { limit: 1 << 24 } }, "/linux/resources/memory/limit"],
    [{ pids: { limit: 20 } }, "/linux/resources/pids/limit"],
    [{ cpu: { shares: 512 } }, "/linux/resources/cpu/shares"],
    [{ devices: DEVICE_RULES, pids: { limit: 20 } }, "/linux/resources/pids/limit"],
  ])("not writable, resources %j asked: a ConfigError naming %s, the cgroup, the uid and how to delegate", (resources, field) => {
    let err: unknown;
    try {
      plan(bundle((c) => (c.linux.resources = resources)), { rootless: USER, access: BLOCKED });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
    const msg = (err as Error).message;
    expect(msg).toMatch(new RegExp(`^config.json ${field}: needs a cgroup of the container's own, and cgroup /tsrun/c1 cannot be made: /sys/fs/cgroup/memory is not writable by uid 1500 `));
    expect(msg).toContain("/sys/kernel/cgroup/delegate");
    expect(msg).toContain("linux.cgroupsPath");
    expect(msg).not.toContain("\n");
  });

  test("the access probe is asked about the path create would make; host root (no rootless facts) is never asked", () => {
    const asked: string[] = [];
    plan(bundle((c) => (c.linux.cgroupsPath = "/deleg/c1")), { rootless: USER }, asked);
    expect(asked).toEqual(["/deleg/c1"]);
  });

  test("cgroup v2, relative and absent paths go below the parent of the caller's cgroup (runc's fs2); absolute ones stay", () => {
    const base = "/user.slice/user-1500.slice/user@1500.service/app.slice";
    const asked: string[] = [];
    expect(plan(bundle(), { rootless: USER, base, hierarchies: UNIFIED }, asked).cgroup.path).toBe(`${base}/c1`);
    expect(plan(bundle((c) => (c.linux.cgroupsPath = "tsrun/c1")), { rootless: USER, base, hierarchies: UNIFIED }).cgroup.path).toBe(`${base}/tsrun/c1`);
    expect(plan(bundle((c) => (c.linux.cgroupsPath = "/consh_cgrp/c1")), { rootless: USER, base, hierarchies: UNIFIED }).cgroup.path).toBe("/consh_cgrp/c1");
    expect(asked).toEqual([`${base}/c1`]);
    expect(() => plan(bundle((c) => (c.linux.cgroupsPath = "../c1")), { rootless: USER, base, hierarchies: UNIFIED })).toThrow(ConfigError);
  });
});

describe("pure helpers", () => {
  test("commonAncestor", () => {
    expect(commonAncestor("/a/b/leaf", "/a/b/c1")).toBe("/a/b");
    expect(commonAncestor("/", "/a/c1")).toBe("/");
    expect(commonAncestor("/ab/x", "/a/x")).toBe("/");
    expect(commonAncestor("/a/c1", "/a/c1")).toBe("/a/c1");
  });

  test("ownCgroupV2 and rootlessCgroupBase", () => {
    expect(ownCgroupV2("0::/user.slice/user-1000.slice/session-3.scope\n")).toBe("/user.slice/user-1000.slice/session-3.scope");
    expect(ownCgroupV2("9:name=systemd:/\n4:memory:/x\n0::/\n")).toBe("/");
    expect(ownCgroupV2("4:memory:/x\n")).toBeUndefined();
    expect(rootlessCgroupBase("/deleg/leaf")).toBe("/deleg");
    expect(rootlessCgroupBase("/")).toBe("/");
  });

  test("cgroupPathFor with a rootless base; without one, root's rules", () => {
    expect(cgroupPathFor("c1", undefined, "/deleg")).toBe("/deleg/c1");
    expect(cgroupPathFor("c1", "", "/deleg")).toBe("/deleg/c1");
    expect(cgroupPathFor("c1", "sub/x/", "/deleg")).toBe("/deleg/sub/x");
    expect(cgroupPathFor("c1", "/abs/c1", "/deleg")).toBe("/abs/c1");
    expect(cgroupPathFor("c1", undefined)).toBe("/tsrun/c1");
    expect(cgroupPathFor("c1", "sub/x")).toBe("/sub/x");
    expect(() => cgroupPathFor("c1", ".", "/")).toThrow(ConfigError);
  });
});

describe("a container with no cgroup of its own", () => {
  test("its members: nothing to list, freeze or remove, and never the hierarchy roots", () => {
    const m = cgroupMembers(NO_CGROUP, HYBRID);
    expect(m.hasFreezer()).toBe(false);
    expect(m.isFrozen()).toBe(false);
    expect(m.pids()).toEqual([]);
    expect(() => m.remove()).not.toThrow();
    expect(() => m.setFrozen(true)).toThrow(/no cgroup of its own/);
  });

  test("a verb that needs the cgroup says why in one line", () => {
    let err: unknown;
    try {
      requireOwnCgroup("c1", NO_CGROUP, "pause");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ContainerStateError);
    expect((err as Error).message).toMatch(/^cannot pause container c1: it has no cgroup of its own \(created rootless where no cgroup was writable; [^\n]*linux.cgroupsPath[^\n]*\)$/);
    expect(() => requireOwnCgroup("c1", "/tsrun/c1", "pause")).not.toThrow();
  });

  const execRequest = (cgroupPath: string, over: Partial<ExecRequest["host"]> = {}, cgroups?: string[]): ExecRequest => {
    const b = bundle();
    return {
      flags: { args: ["true"], ...(cgroups ? { cgroups } : {}) },
      container: { id: "c1", bundle: b, cgroupPath },
      joined: { namespaces: [{ type: "pid", path: "/proc/42/ns/pid" }], usernsRoot: false, home: () => "/root" },
      host: { cgroup: cgroupDriver(cgroupPath, { hierarchies: UNIFIED }), hostCaps: (1n << 41n) - 1n, lastCap: 40, ...over },
    };
  };

  test("exec: stays in the caller's cgroup, as the init did; --cgroup is refused", () => {
    expect(planExec(execRequest(NO_CGROUP)).cgroupJoin).toEqual({ cloneInto: "", selfTasks: [], parentJoins: [] });
    expect(() => planExec(execRequest(NO_CGROUP, {}, ["sub"]))).toThrow(/^cannot exec --cgroup into container c1: it has no cgroup of its own/);
  });

  test("exec into a cgroup the caller may not join: said before anything starts", () => {
    const access: CgroupAccess = { writable: false, blocked: "/sys/fs/cgroup/cgroup.procs", why: "cannot move processes from /other to /deleg/c1 (their common ancestor's cgroup.procs)" };
    expect(() => planExec(execRequest("/deleg/c1", { cgroupAccess: access, euid: 1500 }))).toThrow(
      "cannot exec in container c1: cannot join its cgroup /deleg/c1: /sys/fs/cgroup/cgroup.procs is not writable by uid 1500 (cannot move processes from /other to /deleg/c1 (their common ancestor's cgroup.procs))",
    );
    expect(planExec(execRequest("/deleg/c1", { cgroupAccess: { writable: true }, euid: 1500 })).cgroupJoin.cloneInto).toBe("/sys/fs/cgroup/deleg/c1");
  });
});

describe("cgroup v2 from a delegated directory (a scratch tree laid out as one)", () => {
  // The mount's root has no cgroup.subtree_control the caller may write (here: none at all), the delegated
  // directory has: controllers are offered by it and enabled from it down, never above it.
  let mount: string;
  beforeAll(() => {
    mount = join(work, "cgroup2");
    const deleg = join(mount, "deleg");
    mkdirSync(join(deleg, "c1"), { recursive: true });
    writeFileSync(join(mount, "cgroup.controllers"), "cpu memory pids io\n");
    writeFileSync(join(deleg, "cgroup.controllers"), "cpu pids\n");
    writeFileSync(join(deleg, "cgroup.subtree_control"), "");
    for (const f of ["pids.max", "cpu.max"]) writeFileSync(join(deleg, "c1", f), "");
  });
  const driver = () => cgroupDriver("/deleg/c1", { hierarchies: [{ mountPoint: mount, version: 2, controllers: "" }], rootless: true });

  test("a controller the delegated directory does not offer is named as not delegated", () => {
    const w = driver().planResources({ memory: { limit: 1 << 24 }, pids: { limit: 5 } }).writes;
    expect(w.find((x) => x.file === "memory.max")?.missing).toBe(`/linux/resources/memory/limit: the memory controller is not delegated to ${mount}/deleg (its cgroup.controllers: cpu pids)`);
    expect(w.find((x) => x.file === "pids.max")?.missing).toBeUndefined();
  });

  test("controllers are enabled in the delegated directory (not above it) and the limits written", () => {
    const warnings: string[] = [];
    driver().applyResources({ pids: { limit: 5 }, cpu: { quota: 5000, period: 10000 } }, { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(readFileSync(join(mount, "deleg", "cgroup.subtree_control"), "utf8")).toBe("+cpu +pids");
    expect(readFileSync(join(mount, "deleg", "c1", "pids.max"), "utf8")).toBe("5");
    expect(readFileSync(join(mount, "deleg", "c1", "cpu.max"), "utf8")).toBe("5000 10000");
  });
});
