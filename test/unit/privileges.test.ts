/**
 * The pure planning of issue 6 "Privileges and limits": src/security/{cpu-list,scheduler,ioprio,
 * personality,sysctl,lsm,keyring,rlimits}.ts and where buildPlan places their records.
 */
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type PlanInput, type PlanSpec, buildPlan } from "../../src/plan/build.js";
import { planNamespaces } from "../../src/plan/namespaces.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import { planProcess, type ProcessPlanEnd } from "../../src/plan/process.js";
import { cpusMissing, parseCpuList } from "../../src/security/cpu-list.js";
import { planIoPriority } from "../../src/security/ioprio.js";
import { planSessionKeyring } from "../../src/security/keyring.js";
import { planLsm } from "../../src/security/lsm.js";
import { planPersonality } from "../../src/security/personality.js";
import { checkHardLimit, type HostLimits, parseProcLimits, RLIM_INFINITY } from "../../src/security/rlimits.js";
import { planScheduler } from "../../src/security/scheduler.js";
import { planSysctl } from "../../src/security/sysctl.js";
import { fieldOf } from "../helpers/config-error.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8")) as PlanSpec;
const ALL_CAPS = (1n << 41n) - 1n;
const END: ProcessPlanEnd = { preserveFds: 0, wait: [], passwd: undefined };

function spec(edit?: (s: any) => void): PlanSpec { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = JSON.parse(JSON.stringify(BUSYBOX));
  edit?.(s);
  return s;
}

function plan(s: PlanSpec, over: Partial<PlanInput> = {}): PlanRecord[] {
  return buildPlan({
    spec: s,
    rootfs: "/nonexistent/rootfs",
    bundle: "/nonexistent",
    fifoPath: "/run/tsrun/c1/exec.fifo",
    noPivot: false,
    preserveFds: 0,
    foreground: false,
    cgroupMounts: cgroupMountsOf("/tsrun/c1", []),
    cgroupJoin: { cloneInto: "", selfTasks: [] },
    hostCaps: ALL_CAPS,
    lastCap: 40,
    ...over,
  }).records;
}
const idx = (recs: PlanRecord[], op: Op, from = 0): number => recs.findIndex((r, i) => i >= from && r.op === op);

describe("parseCpuList", () => {
  test("single CPUs, ranges, and CPUs past 63 in later words", () => {
    expect(parseCpuList("0", "/f")).toEqual([1n]);
    expect(parseCpuList("0-3,7", "/f")).toEqual([0x8fn]);
    expect(parseCpuList(" 1 , 3-4 ", "/f")).toEqual([0x1an]);
    expect(parseCpuList("64", "/f")).toEqual([0n, 1n]);
    expect(parseCpuList("62-65", "/f")).toEqual([0xc000000000000000n, 3n]);
  });

  test.each(["", "x", "1-", "-1", "3-1", "1,,2", "0-8192", "1.5"])("%j is refused with the field", (text) => {
    expect(fieldOf(() => parseCpuList(text, "/process/execCPUAffinity/final"))).toBe("/process/execCPUAffinity/final");
  });

  test("cpusMissing names the CPUs a mask has that the online mask lacks", () => {
    expect(cpusMissing(parseCpuList("0-3,70", "/f"), parseCpuList("0-1", "/f"))).toEqual([2, 3, 70]);
    expect(cpusMissing(parseCpuList("1", "/f"), parseCpuList("0-1", "/f"))).toEqual([]);
  });
});

describe("planScheduler", () => {
  test("policies, nice, priority, flags and the deadline triple go into one record, with the field", () => {
    expect(planScheduler({ policy: "SCHED_BATCH", nice: 5 })).toEqual({ op: Op.SCHED_SETATTR, ints: [3, 0, 5, 0, 0n, 0n, 0n], strs: ["/process/scheduler"] });
    expect(planScheduler({ policy: "SCHED_FIFO", priority: 10, flags: ["SCHED_FLAG_RESET_ON_FORK"] }).ints).toEqual([1, 1, 0, 10, 0n, 0n, 0n]);
    expect(planScheduler({ policy: "SCHED_RR", priority: 99 }).ints![0]).toBe(2);
    expect(planScheduler({ policy: "SCHED_IDLE" }).ints![0]).toBe(5);
    expect(planScheduler({ policy: "SCHED_OTHER", nice: -20 }).ints).toEqual([0, 0, -20, 0, 0n, 0n, 0n]);
    expect(planScheduler({ policy: "SCHED_DEADLINE", runtime: 1e6, deadline: 2e6, period: 3e6, flags: ["SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN"] }).ints)
      .toEqual([6, 0x6, 0, 0, 1000000n, 2000000n, 3000000n]);
    // period 0 means "the deadline" to the kernel
    expect(planScheduler({ policy: "SCHED_DEADLINE", runtime: 1e6, deadline: 2e6 }).ints!.slice(4)).toEqual([1000000n, 2000000n, 0n]);
  });

  test.each([
    [{ policy: "SCHED_ISO" }, "/process/scheduler/policy"],
    [{ policy: "SCHED_FAST" }, "/process/scheduler/policy"],
    [{ policy: "SCHED_OTHER", nice: 20 }, "/process/scheduler/nice"],
    [{ policy: "SCHED_OTHER", nice: -21 }, "/process/scheduler/nice"],
    [{ policy: "SCHED_OTHER", priority: 1 }, "/process/scheduler/priority"],
    [{ policy: "SCHED_FIFO" }, "/process/scheduler/priority"],
    [{ policy: "SCHED_RR", priority: 100 }, "/process/scheduler/priority"],
    [{ policy: "SCHED_OTHER", flags: ["SCHED_FLAG_KEEP_ALL"] }, "/process/scheduler/flags/0"],
    [{ policy: "SCHED_BATCH", runtime: 5 }, "/process/scheduler/runtime"],
    [{ policy: "SCHED_OTHER", period: 5 }, "/process/scheduler/period"],
    [{ policy: "SCHED_DEADLINE", runtime: 1 }, "/process/scheduler"],
    [{ policy: "SCHED_DEADLINE", runtime: 3, deadline: 2 }, "/process/scheduler/runtime"],
    [{ policy: "SCHED_DEADLINE", runtime: 1, deadline: 3, period: 2 }, "/process/scheduler/deadline"],
  ])("%j is refused at %s", (s, field) => {
    expect(fieldOf(() => planScheduler(s))).toBe(field);
  });
});

describe("planIoPriority", () => {
  test("class << 13 | level", () => {
    expect(planIoPriority({ class: "IOPRIO_CLASS_RT", priority: 0 })).toEqual({ op: Op.IOPRIO_SET, ints: [1 << 13], strs: ["/process/ioPriority"] });
    expect(planIoPriority({ class: "IOPRIO_CLASS_BE", priority: 7 }).ints).toEqual([(2 << 13) | 7]);
    expect(planIoPriority({ class: "IOPRIO_CLASS_IDLE" }).ints).toEqual([3 << 13]);
  });

  test("unknown class and levels outside 0..7 are refused", () => {
    expect(fieldOf(() => planIoPriority({ class: "IOPRIO_CLASS_NONE", priority: 0 }))).toBe("/process/ioPriority/class");
    expect(fieldOf(() => planIoPriority({ class: "IOPRIO_CLASS_BE", priority: 8 }))).toBe("/process/ioPriority/priority");
    expect(fieldOf(() => planIoPriority({ class: "IOPRIO_CLASS_BE", priority: -1 }))).toBe("/process/ioPriority/priority");
  });
});

describe("planPersonality", () => {
  test("LINUX and LINUX32; flags are refused (the spec defines none)", () => {
    expect(planPersonality({ domain: "LINUX" })).toEqual({ op: Op.PERSONALITY, ints: [0], strs: ["/linux/personality"] });
    expect(planPersonality({ domain: "LINUX32", flags: [] }).ints).toEqual([8]);
    expect(fieldOf(() => planPersonality({ domain: "LINUX64" }))).toBe("/linux/personality/domain");
    expect(fieldOf(() => planPersonality({ domain: "LINUX", flags: ["ADDR_NO_RANDOMIZE"] }))).toBe("/linux/personality/flags/0");
  });
});

describe("planSysctl", () => {
  const all = planNamespaces([{ type: "mount" }, { type: "ipc" }, { type: "network" }, { type: "uts" }, { type: "pid" }]);
  const none = planNamespaces([{ type: "mount" }]);
  const never = () => false;

  test("namespaced keys become paths under /proc/sys, dotted or slashed", () => {
    expect(planSysctl({ "kernel.shmmax": "1", "fs.mqueue.msg_max": "2", "net.ipv4.ip_forward": "1", "kernel.domainname": "d", "net/ipv4/conf/eth0.100/forwarding": "1" }, all, never)).toEqual([
      { field: "/linux/sysctl/kernel.shmmax", path: "kernel/shmmax", value: "1" },
      { field: "/linux/sysctl/fs.mqueue.msg_max", path: "fs/mqueue/msg_max", value: "2" },
      { field: "/linux/sysctl/net.ipv4.ip_forward", path: "net/ipv4/ip_forward", value: "1" },
      { field: "/linux/sysctl/kernel.domainname", path: "kernel/domainname", value: "d" },
      // JSON pointer escapes "/" as "~1"; a slashed key keeps its dots (a VLAN interface name)
      { field: "/linux/sysctl/net~1ipv4~1conf~1eth0.100~1forwarding", path: "net/ipv4/conf/eth0.100/forwarding", value: "1" },
    ]);
    for (const k of ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmni", "kernel.shm_rmid_forced"]) {
      expect(planSysctl({ [k]: "1" }, all, never)).toHaveLength(1);
    }
  });

  test.each([
    ["kernel.shmmax", "ipc namespace"],
    ["fs.mqueue.queues_max", "ipc namespace"],
    ["net.core.somaxconn", "network namespace"],
    ["kernel.domainname", "uts namespace"],
  ])("%s without its namespace is refused", (key, why) => {
    let msg = "";
    expect(fieldOf(() => {
      try {
        planSysctl({ [key]: "1" }, none, never);
      } catch (e) {
        msg = (e as Error).message;
        throw e;
      }
    })).toBe(`/linux/sysctl/${key}`);
    expect(msg).toContain(why);
  });

  test("host keys, kernel.hostname, and path tricks are refused", () => {
    for (const key of ["kernel.pid_max", "vm.swappiness", "kernel.hostname", "kernel.shmmax.", "net..ipv4", "net/../../kernel/core_pattern", "net/./x"]) {
      expect(() => planSysctl({ [key]: "1" }, all, never)).toThrow(/config\.json \/linux\/sysctl\//);
    }
  });

  test("user.* (runc 1.3): allowed with a user namespace of the container's own, new or joined; refused otherwise, naming the field", () => {
    const newUser = planNamespaces([{ type: "mount" }, { type: "user" }]);
    const joinedUser = planNamespaces([{ type: "mount" }, { type: "user", path: "/proc/42/ns/user" }]);
    for (const ns of [newUser, joinedUser]) {
      expect(planSysctl({ "user.max_user_namespaces": "10", "user/max_net_namespaces": "5" }, ns, never)).toEqual([
        { field: "/linux/sysctl/user.max_user_namespaces", path: "user/max_user_namespaces", value: "10" },
        { field: "/linux/sysctl/user~1max_net_namespaces", path: "user/max_net_namespaces", value: "5" },
      ]);
    }
    let msg = "";
    expect(fieldOf(() => {
      try {
        planSysctl({ "user.max_user_namespaces": "10" }, all, never);
      } catch (e) {
        msg = (e as Error).message;
        throw e;
      }
    })).toBe("/linux/sysctl/user.max_user_namespaces");
    expect(msg).toContain("needs a user namespace of the container's own");
    expect(() => planSysctl({ "user/../kernel/core_pattern": "x" }, newUser, never)).toThrow(/not a sysctl name/);
  });

  test("net.* in a network namespace joined by path: refused only when it is tsrun's own", () => {
    const joined = planNamespaces([{ type: "mount" }, { type: "network", path: "/var/run/netns/x" }]);
    expect(planSysctl({ "net.ipv4.ip_forward": "1" }, joined, () => false)).toHaveLength(1);
    expect(fieldOf(() => planSysctl({ "net.ipv4.ip_forward": "1" }, joined, (p) => p === "/var/run/netns/x"))).toBe("/linux/sysctl/net.ipv4.ip_forward");
  });
});

describe("planLsm", () => {
  const on = { apparmor: true, selinux: true };
  const off = { apparmor: false, selinux: false };

  test("where enabled: the exec attributes the kernel applies at execve", () => {
    expect(planLsm({ apparmorProfile: "p1", selinuxLabel: "u:r:t:s0" }, on)).toEqual([
      { op: Op.PROCFS_WRITE, strs: ["self/attr/apparmor/exec", "exec p1", "/process/apparmorProfile", ""] },
      { op: Op.PROCFS_WRITE, strs: ["self/attr/exec", "u:r:t:s0", "/process/selinuxLabel", ""] },
    ]);
    expect(planLsm({}, off)).toEqual([]);
  });

  test("where not: each is refused with its path", () => {
    expect(fieldOf(() => planLsm({ apparmorProfile: "p1" }, off))).toBe("/process/apparmorProfile");
    expect(fieldOf(() => planLsm({ selinuxLabel: "x" }, { apparmor: true, selinux: false }))).toBe("/process/selinuxLabel");
  });
});

describe("planSessionKeyring", () => {
  test("named _ses.<id>; search for the owner, or for others in a new user namespace (runc's bits)", () => {
    expect(planSessionKeyring("c1", false)).toEqual({ op: Op.SESSION_KEYRING, ints: [0x80000], strs: ["_ses.c1"] });
    expect(planSessionKeyring("c1", true).ints).toEqual([0x8]);
  });
});

describe("rlimits against the host", () => {
  const LIMITS = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max cpu time              unlimited            unlimited            seconds   ",
    "Max file size             unlimited            unlimited            bytes     ",
    "Max data size             unlimited            unlimited            bytes     ",
    "Max stack size            8388608              unlimited            bytes     ",
    "Max core file size        0                    unlimited            bytes     ",
    "Max resident set          unlimited            unlimited            bytes     ",
    "Max processes             96365                96365                processes ",
    "Max open files            20000                20000                files     ",
    "Max locked memory         8388608              8388608              bytes     ",
    "Max address space         unlimited            unlimited            bytes     ",
    "Max file locks            unlimited            unlimited            locks     ",
    "Max pending signals       96365                96365                signals   ",
    "Max msgqueue size         819200               819200               bytes     ",
    "Max nice priority         0                    0                    ",
    "Max realtime priority     0                    0                    ",
    "Max realtime timeout      unlimited            unlimited            us        ",
    "",
  ].join("\n");

  test("parseProcLimits: hard limits by RLIMIT number", () => {
    const hard = parseProcLimits(LIMITS);
    expect(hard).toHaveLength(16);
    expect(hard[0]).toBe(RLIM_INFINITY);
    expect(hard[6]).toBe(96365n);
    expect(hard[7]).toBe(20000n);
    expect(hard[8]).toBe(8388608n);
    expect(hard[13]).toBe(0n);
  });

  const host: HostLimits = { hard: parseProcLimits(LIMITS), canRaise: false, nrOpen: 1048576 };

  test("a hard limit above tsrun's own is refused naming the rlimit and both values; at or below passes", () => {
    expect(() => checkHardLimit("RLIMIT_NOFILE", 7, 20001n, host, "/process/rlimits/0/hard")).toThrow(
      "config.json /process/rlimits/0/hard: RLIMIT_NOFILE hard limit 20001 is above tsrun's own hard limit 20000",
    );
    expect(() => checkHardLimit("RLIMIT_NOFILE", 7, RLIM_INFINITY, host, "/f")).toThrow(/hard limit unlimited is above tsrun's own hard limit 20000/);
    expect(() => checkHardLimit("RLIMIT_NOFILE", 7, 20000n, host, "/f")).not.toThrow();
    expect(() => checkHardLimit("RLIMIT_CPU", 0, RLIM_INFINITY, host, "/f")).not.toThrow();
    // With CAP_SYS_RESOURCE tsrun may raise it, up to fs.nr_open for NOFILE.
    expect(() => checkHardLimit("RLIMIT_NOFILE", 7, 30000n, { ...host, canRaise: true }, "/f")).not.toThrow();
    expect(fieldOf(() => checkHardLimit("RLIMIT_NOFILE", 7, 2000000n, { ...host, canRaise: true }, "/p"))).toBe("/p");
    expect(() => checkHardLimit("RLIMIT_NOFILE", 7, 1n << 40n, undefined, "/f")).not.toThrow();
  });

  test("planProcess checks every hard limit, and refuses a type given twice", () => {
    const proc = { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/", rlimits: [{ type: "RLIMIT_NPROC", soft: 10, hard: 100000 }] };
    expect(fieldOf(() => planProcess({ hostCaps: ALL_CAPS, lastCap: 40, hostLimits: host }, proc, END))).toBe("/process/rlimits/0/hard");
    const twice = { ...proc, rlimits: [{ type: "RLIMIT_CORE", soft: 0, hard: 0 }, { type: "RLIMIT_CORE", soft: 1, hard: 1 }] };
    expect(fieldOf(() => planProcess({ hostCaps: ALL_CAPS, lastCap: 40 }, twice, END))).toBe("/process/rlimits/1/type");
  });
});

describe("buildPlan: where the records go", () => {
  test("execCPUAffinity: initial in stage 0 just before CLONE, final before the fds are marked and the cwd entered; offline CPUs refused", () => {
    const recs = plan(spec((s) => (s.process.execCPUAffinity = { initial: "0", final: "1" })), { onlineCpus: [3n] });
    const clone = idx(recs, Op.CLONE);
    expect(recs[clone - 1]).toEqual({ op: Op.CPU_AFFINITY, ints: [1n], strs: ["/process/execCPUAffinity/initial"] });
    const fin = idx(recs, Op.CPU_AFFINITY, clone);
    expect(recs[fin]).toEqual({ op: Op.CPU_AFFINITY, ints: [2n], strs: ["/process/execCPUAffinity/final"] });
    expect(recs[fin + 1].op).toBe(Op.CLOEXEC_FROM);
    expect(fin).toBeLessThan(idx(recs, Op.CHDIR));
    expect(plan(spec((s) => (s.process.execCPUAffinity = { initial: "", final: "" }))).some((r) => r.op === Op.CPU_AFFINITY)).toBe(false);
    expect(() => plan(spec((s) => (s.process.execCPUAffinity = { final: "0-3" })), { onlineCpus: [3n] })).toThrow(
      "config.json /process/execCPUAffinity/final: CPU 2, 3 not online on this host",
    );
  });

  test("the session keyring is joined right after the sync, as the container's root, only when asked", () => {
    const recs = plan(spec(), { sessionKeyring: "c1" });
    const k = idx(recs, Op.SESSION_KEYRING);
    expect(k).toBeGreaterThan(idx(recs, Op.SYNC));
    expect(k).toBeLessThan(idx(recs, Op.MOUNT));
    expect(recs[k].strs).toEqual(["_ses.c1"]);
    expect(plan(spec()).some((r) => r.op === Op.SESSION_KEYRING)).toBe(false);
    // With SELinux on and a label, the keyring is created with that label (runc's SetKeyLabel).
    const labelled = plan(spec((s) => (s.process.selinuxLabel = "u:r:t:s0")), { sessionKeyring: "c1", lsm: { apparmor: false, selinux: true } });
    const key = idx(labelled, Op.SESSION_KEYRING);
    expect(labelled[key - 1]).toEqual({ op: Op.PROCFS_WRITE, strs: ["self/attr/keycreate", "u:r:t:s0", "/process/selinuxLabel", ""] });
  });

  test("sysctl: after the pivot, through the procfs handle, before readonlyPaths make /proc/sys read-only", () => {
    const recs = plan(spec((s) => (s.linux.sysctl = { "kernel.shmmax": "1" })));
    const w = idx(recs, Op.PROCFS_WRITE);
    expect(w).toBeGreaterThan(idx(recs, Op.PIVOT_ROOT));
    const roSys = recs.findIndex((r) => r.op === Op.MOUNT && r.strs![1] === "/proc/sys");
    expect(roSys).toBeGreaterThan(w);
    expect(recs[w].strs).toEqual(["sys/kernel/shmmax", "1", "/linux/sysctl/kernel.shmmax", ""]);
    // A refused key fails the plan: nothing of it is run.
    expect(() => plan(spec((s) => (s.linux.sysctl = { "vm.overcommit_memory": "1" })))).toThrow(/\/linux\/sysctl\/vm.overcommit_memory/);
  });

  test("scheduler and ioPriority before the capabilities are dropped; personality after the process settings, before the fds are marked", () => {
    const recs = plan(spec((s) => {
      s.process.scheduler = { policy: "SCHED_BATCH" };
      s.process.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 4 };
      s.linux.personality = { domain: "LINUX32" };
    }));
    expect(idx(recs, Op.SCHED_SETATTR)).toBeLessThan(idx(recs, Op.CAP_BOUNDING));
    expect(idx(recs, Op.IOPRIO_SET)).toBeLessThan(idx(recs, Op.CAP_BOUNDING));
    expect(idx(recs, Op.PERSONALITY)).toBeGreaterThan(idx(recs, Op.IOPRIO_SET));
    expect(idx(recs, Op.PERSONALITY)).toBe(idx(recs, Op.CLOEXEC_FROM) - 1);
  });

  test("LSM labels before the user switch; refused where the module is off", () => {
    const recs = plan(spec((s) => (s.process.apparmorProfile = "prof")), { lsm: { apparmor: true, selinux: false } });
    const w = recs.findIndex((r) => r.op === Op.PROCFS_WRITE && r.strs![0] === "self/attr/apparmor/exec");
    expect(w).toBeGreaterThan(idx(recs, Op.PIVOT_ROOT));
    expect(w).toBeLessThan(idx(recs, Op.SETUSER));
    expect(() => plan(spec((s) => (s.process.apparmorProfile = "prof")), { lsm: { apparmor: false, selinux: false } })).toThrow(/\/process\/apparmorProfile/);
  });

  test("in a new user namespace a capability tsrun's bounding set lacks can be granted", () => {
    const userns = spec((s) => {
      s.linux.namespaces.push({ type: "user" });
      s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.process.capabilities.bounding.push("CAP_SYS_RESOURCE");
    });
    const noSysResource = ALL_CAPS & ~(1n << 24n);
    expect(() => plan(userns, { hostCaps: noSysResource })).not.toThrow();
    const host = spec((s) => s.process.capabilities.bounding.push("CAP_SYS_RESOURCE"));
    expect(() => plan(host, { hostCaps: noSysResource })).toThrow(/CAP_SYS_RESOURCE not available/);
  });
});
