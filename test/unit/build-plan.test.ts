/**
 * src/plan/build.ts: a realistic OCI config -> the launch plan tsrun-init executes.
 */
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { ConfigError } from "../../src/errors.js";
import { MS } from "../../src/fs/mount-flags.js";
import { DEFAULT_PATH, type PlanInput, type PlanSpec, buildPlan } from "../../src/plan/build.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8")) as PlanSpec;

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NEWTIME = 0x00000080;
const S_IFIFO = 0o010000;
const ALL_CAPS = (1n << 41n) - 1n;
const CAP = { KILL: 1n << 5n, NET_BIND_SERVICE: 1n << 10n, SYS_RESOURCE: 1n << 24n, AUDIT_WRITE: 1n << 29n, CHOWN: 1n };
const RLIM_INFINITY = 0xffffffffffffffffn;

let bundle: string;
let rootfs: string;
let bareRootfs: string;

beforeAll(() => {
  bundle = mkdtempSync(join(tmpdir(), "tsrun-plan-test-"));
  rootfs = join(bundle, "rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  bareRootfs = join(bundle, "bare");
  mkdirSync(bareRootfs);
});

afterAll(() => {
  rmSync(bundle, { recursive: true, force: true });
});

const HYBRID: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/cpu", version: 1, controllers: "cpu" },
  { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
  { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
];

function spec(edit?: (s: any) => void): PlanSpec { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = JSON.parse(JSON.stringify(BUSYBOX));
  edit?.(s);
  return s;
}

function plan(s: PlanSpec, over: Partial<PlanInput> = {}): PlanRecord[] {
  return buildPlan({
    spec: s,
    rootfs,
    bundle,
    fifoPath: "/run/tsrun/c1/exec.fifo",
    noPivot: false,
    preserveFds: 0,
    foreground: false,
    cgroupMounts: cgroupMountsOf("/tsrun/c1", HYBRID),
    cgroupJoin: { cloneInto: "/sys/fs/cgroup/unified/tsrun/c1", selfTasks: ["/sys/fs/cgroup/cpu/tsrun/c1/tasks", "/sys/fs/cgroup/memory/tsrun/c1/tasks"] },
    hostCaps: ALL_CAPS,
    lastCap: 40,
    ...over,
  }).records;
}

const ops = (recs: PlanRecord[]): Op[] => recs.map((r) => r.op);
const one = (recs: PlanRecord[], op: Op): PlanRecord => {
  const found = recs.filter((r) => r.op === op);
  expect(found).toHaveLength(1);
  return found[0];
};
const idx = (recs: PlanRecord[], op: Op): number => recs.findIndex((r) => r.op === op);
const ints = (r: PlanRecord): bigint[] => (r.ints ?? []).map((v) => BigInt(v));

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toContain((e as ConfigError).field);
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("buildPlan: stage 0 and the clone", () => {
  test("the exec fifo is made (a FIFO) and opened before the clone; then the clone", () => {
    const recs = plan(spec());
    const clone = idx(recs, Op.CLONE);
    const mknod = recs.findIndex((r) => r.op === Op.MKNOD && r.strs![0] === "/run/tsrun/c1/exec.fifo");
    expect(mknod).toBeGreaterThanOrEqual(0);
    expect(mknod).toBeLessThan(clone);
    expect(Number(recs[mknod].ints![0]) & 0o170000).toBe(S_IFIFO);
    const open = recs.findIndex((r) => r.op === Op.OPEN_FIFO);
    expect(recs[open].strs).toEqual(["/run/tsrun/c1/exec.fifo"]);
    expect(open).toBeGreaterThan(mknod);
    // nothing else of the container happens in stage 0
    expect(ops(recs.slice(0, clone)).filter((o) => o !== Op.UMASK && o !== Op.MKNOD && o !== Op.OPEN_FIFO && o !== Op.SETNS)).toEqual([]);
  });

  test("the init starts in its v2 cgroup (CLONE into it) and moves itself into the v1 ones before SYNC", () => {
    const recs = plan(spec());
    const clone = idx(recs, Op.CLONE);
    expect(recs[clone].strs).toEqual(["/sys/fs/cgroup/unified/tsrun/c1"]);
    expect(recs.slice(clone + 1, clone + 3)).toEqual([
      { op: Op.WRITE_FILE, strs: ["/sys/fs/cgroup/cpu/tsrun/c1/tasks", "0"] },
      { op: Op.WRITE_FILE, strs: ["/sys/fs/cgroup/memory/tsrun/c1/tasks", "0"] },
    ]);
    expect(recs[clone + 3].op).toBe(Op.SYNC);
  });

  test("CLONE flags are the new namespaces; cgroup is not a clone flag but a later UNSHARE, after SYNC", () => {
    const recs = plan(spec());
    expect(ints(one(recs, Op.CLONE))).toEqual([BigInt(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS), 0n]);
    const unshare = one(recs, Op.UNSHARE);
    expect(ints(unshare)).toEqual([BigInt(CLONE_NEWCGROUP)]);
    expect(idx(recs, Op.SYNC)).toBeGreaterThan(idx(recs, Op.CLONE));
    expect(recs.indexOf(unshare)).toBeGreaterThan(idx(recs, Op.SYNC));
    expect(one(recs, Op.SYNC).strs).toEqual(["setup"]);
  });

  test("a time namespace is unshared late too, with the offsets written after", () => {
    const recs = plan(spec((s) => {
      s.linux.namespaces.push({ type: "time" });
      s.linux.timeOffsets = { monotonic: { secs: 100, nanosecs: 5 }, boottime: { secs: -3 } };
    }));
    expect(Number(ints(one(recs, Op.CLONE))[0]) & CLONE_NEWTIME).toBe(0);
    const unshare = one(recs, Op.UNSHARE);
    expect(ints(unshare)).toEqual([BigInt(CLONE_NEWCGROUP | CLONE_NEWTIME)]);
    const w = recs.find((r) => r.op === Op.PROCFS_WRITE && r.strs![0] === "self/timens_offsets")!;
    expect(w.strs).toEqual(["self/timens_offsets", "monotonic 100 5\nboottime -3 0\n", "/linux/timeOffsets", ""]);
    expect(recs.indexOf(w)).toBeGreaterThan(recs.indexOf(unshare));
  });

  test("foreground run: the clone's second int is 1", () => {
    expect(ints(one(plan(spec(), { foreground: true }), Op.CLONE))[1]).toBe(1n);
  });

  test("joined namespaces: SETNS before the clone, user first and mount last, not in the clone flags", () => {
    const recs = plan(spec((s) => {
      s.linux.namespaces = [
        { type: "mount", path: "/proc/77/ns/mnt" },
        { type: "network", path: "/var/run/netns/cni-1" },
        { type: "uts" },
        { type: "ipc", path: "/proc/77/ns/ipc" },
        { type: "user", path: "/proc/77/ns/user" },
      ];
      // without a pid namespace of its own, a container in a user namespace cannot mount proc
      s.mounts = s.mounts.filter((m: { type: string }) => m.type !== "proc");
    }));
    const clone = idx(recs, Op.CLONE);
    const setns = recs.filter((r) => r.op === Op.SETNS);
    expect(setns.map((r) => r.strs![0])).toEqual(["/proc/77/ns/user", "/proc/77/ns/ipc", "/var/run/netns/cni-1", "/proc/77/ns/mnt"]);
    expect(setns.map((r) => Number(r.ints![0]))).toEqual([CLONE_NEWUSER, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS]);
    expect(recs.indexOf(setns[3])).toBeLessThan(clone);
    expect(ints(recs[clone])[0]).toBe(BigInt(CLONE_NEWUTS));
    // a joined network namespace is not ours to bring lo up in; a joined user ns needs no SETRESID
    expect(ops(recs)).not.toContain(Op.LOOPBACK_UP);
    expect(ops(recs)).not.toContain(Op.SETRESID);
  });
});

describe("buildPlan: mount namespaces and bind sources (issue 14)", () => {
  const noMountNs = (s: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== "mount");
    delete s.linux.maskedPaths;
    delete s.linux.readonlyPaths;
  };
  const mountsOf = (recs: PlanRecord[]) => recs.filter((r) => r.op === Op.MOUNT).map((r) => ({ flags: Number(r.ints![0]), target: r.strs![1] }));

  test("no mount namespace: / keeps its propagation, the rootfs bind gets rslave, CHROOT instead of a pivot (also with --no-pivot)", () => {
    for (const noPivot of [false, true]) {
      const recs = plan(spec(noMountNs), { noPivot });
      const m = mountsOf(recs);
      expect(m.some((x) => x.target === "/" && x.flags & (MS.SLAVE | MS.PRIVATE | MS.SHARED))).toBe(false);
      expect(m.slice(0, 2)).toEqual([{ flags: MS.BIND | MS.REC, target: rootfs }, { flags: MS.SLAVE | MS.REC, target: rootfs }]);
      expect(one(recs, Op.CHROOT).strs).toEqual([rootfs]);
      for (const op of [Op.PIVOT_ROOT, Op.MOVE_ROOT, Op.DETACH_PSEUDO_FS, Op.MASK]) expect(ops(recs)).not.toContain(op);
      // the read-only root is still made read-only (runc skips it without a mount namespace)
      expect(m.some((x) => x.target === "/" && x.flags === (MS.BIND | MS.REMOUNT | MS.RDONLY))).toBe(true);
    }
  });

  test("a mount namespace joined by path gets the same root as a new one (runc)", () => {
    const joined = plan(spec((s) => { s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === "mount" ? { type: "mount", path: "/proc/77/ns/mnt" } : n)); }));
    const fresh = plan(spec());
    const after = (recs: PlanRecord[]) => recs.slice(idx(recs, Op.SYNC));
    expect(after(joined)).toEqual(after(fresh));
  });

  test("--no-pivot: the host's full procfs and sysfs mounts are detached right before MOVE_ROOT", () => {
    const recs = plan(spec(), { noPivot: true });
    expect(one(recs, Op.DETACH_PSEUDO_FS).strs).toEqual([rootfs, "proc", "sysfs"]);
    expect(idx(recs, Op.DETACH_PSEUDO_FS)).toBe(idx(recs, Op.MOVE_ROOT) - 1);
    expect(ops(plan(spec()))).not.toContain(Op.DETACH_PSEUDO_FS);
  });

  test("a new user namespace, as host root: the bind sources are opened by stage 0 (BIND_SOURCES before CLONE) and named by index", () => {
    const src = join(bundle, "src");
    mkdirSync(src, { recursive: true });
    const userns = (s: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      s.linux.namespaces.push({ type: "user" });
      s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.mounts.push({ destination: "/a", type: "bind", source: src, options: ["rbind"] });
      s.mounts.push({ destination: "/t", type: "tmpfs", source: "tmpfs" });
      s.mounts.push({ destination: "/b", source: "src", options: ["bind", "ro"] });
    };
    const recs = plan(spec(userns), { hostRoot: true });
    const sources = one(recs, Op.BIND_SOURCES);
    expect(sources.strs).toEqual([src, src]);
    expect(idx(recs, Op.BIND_SOURCES)).toBe(idx(recs, Op.CLONE) - 1);
    const binds = recs.filter((r) => r.op === Op.MOUNT && Number(r.ints![0]) & MS.BIND && !(Number(r.ints![0]) & MS.REMOUNT) && r.strs![0] === src);
    expect(binds.map((r) => [r.strs![1], ints(r)[2]])).toEqual([[join(rootfs, "a"), 0n], [join(rootfs, "b"), 1n]]);
    // the other mounts (devices bound from the host, cgroup dirs) keep their path sources
    expect(recs.filter((r) => r.op === Op.MOUNT && r.ints!.length > 2)).toHaveLength(2);
    // not as another user (stage 0 could not join the namespace), nor without a user namespace
    expect(ops(plan(spec(userns), { hostRoot: false }))).not.toContain(Op.BIND_SOURCES);
    expect(ops(plan(spec((s) => s.mounts.push({ destination: "/a", type: "bind", source: src, options: ["rbind"] })), { hostRoot: true }))).not.toContain(Op.BIND_SOURCES);
  });
});

describe("buildPlan: the child's setup", () => {
  test("SYNC comes before any mount, sethostname and process setup", () => {
    const recs = plan(spec());
    const sync = idx(recs, Op.SYNC);
    const firstMount = idx(recs, Op.MOUNT);
    expect(firstMount).toBeGreaterThan(sync);
    for (const op of [Op.MOUNT, Op.SETHOSTNAME, Op.SETUSER, Op.CAPSET, Op.RLIMIT, Op.EXEC]) {
      expect(recs.findIndex((r) => r.op === op)).toBeGreaterThan(sync);
    }
  });

  test("a new network namespace brings lo up; none without one", () => {
    expect(ops(plan(spec()))).toContain(Op.LOOPBACK_UP);
    expect(ops(plan(spec((s) => { s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "network"); })))).not.toContain(Op.LOOPBACK_UP); // eslint-disable-line @typescript-eslint/no-explicit-any
  });

  test("a new user namespace mapping 0: SETRESID 0 0 right after SYNC", () => {
    const recs = plan(spec((s) => {
      s.linux.namespaces.push({ type: "user" });
      s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    }));
    expect(ints(one(recs, Op.CLONE))[0] & BigInt(CLONE_NEWUSER)).toBe(BigInt(CLONE_NEWUSER));
    expect(ints(one(recs, Op.SETRESID))).toEqual([0n, 0n]);
    expect(idx(recs, Op.SETRESID)).toBe(idx(recs, Op.SYNC) + 1);
    // devices come from the host by bind mount, not mknod, in a user namespace
    expect(recs.filter((r) => r.op === Op.MKNOD)).toHaveLength(1); // the fifo only
  });

  test("a new user namespace that does not map 0: no SETRESID", () => {
    const recs = plan(spec((s) => {
      s.linux.namespaces.push({ type: "user" });
      s.linux.uidMappings = [{ containerID: 1000, hostID: 100000, size: 1 }];
      s.linux.gidMappings = [{ containerID: 1000, hostID: 100000, size: 1 }];
      s.process.user = { uid: 1000, gid: 1000 };
    }));
    expect(ops(recs)).not.toContain(Op.SETRESID);
  });

  test("the rootfs is planned: / rslave first, the cgroup hierarchy mounted, pivot, read-only root", () => {
    const recs = plan(spec());
    const mounts = recs.filter((r) => r.op === Op.MOUNT);
    expect(ints(mounts[0])).toEqual([BigInt(MS.SLAVE | MS.REC), 0n]);
    expect(mounts[0].strs![1]).toBe("/");
    expect(mounts.some((m) => m.strs![2] === "cgroup" && m.strs![3] === "memory")).toBe(true);
    const pivot = one(recs, Op.PIVOT_ROOT);
    expect(pivot.strs).toEqual([rootfs]);
    const roRoot = recs.findIndex((r, i) => i > recs.indexOf(pivot) && r.op === Op.MOUNT && r.strs![1] === "/");
    expect(ints(recs[roRoot])[0]).toBe(BigInt(MS.BIND | MS.REMOUNT | MS.RDONLY));
    expect(ops(plan(spec(), { noPivot: true }))).toContain(Op.MOVE_ROOT);
  });

  test("hostname, domainname and sysctl", () => {
    const recs = plan(spec((s) => {
      s.domainname = "example.org";
      s.linux.sysctl = { "net.ipv4.ip_forward": "1" };
    }));
    expect(one(recs, Op.SETHOSTNAME).strs).toEqual(["tsrun-demo"]);
    expect(one(recs, Op.SETDOMAINNAME).strs).toEqual(["example.org"]);
    expect(one(recs, Op.PROCFS_WRITE).strs).toEqual(["sys/net/ipv4/ip_forward", "1", "/linux/sysctl/net.ipv4.ip_forward", ""]);
  });

  test("every /proc write goes through one procfs handle, opened before any namespace is joined or mount made", () => {
    const recs = plan(spec((s) => {
      s.linux.namespaces.push({ type: "time" });
      s.linux.timeOffsets = { monotonic: { secs: 1 } };
      s.linux.namespaces.find((n: { type: string }) => n.type === "network").path = "/var/run/netns/x";
      s.linux.sysctl = { "kernel.shmmax": "1" };
      s.process.oomScoreAdj = 1;
      s.process.selinuxLabel = "u:r:t:s0";
    }), { sessionKeyring: "c1", lsm: { apparmor: false, selinux: true } });
    const writes = recs.flatMap((r, i) => (r.op === Op.PROCFS_WRITE ? [i] : []));
    expect(writes.map((i) => recs[i].strs![0])).toEqual(["self/oom_score_adj", "self/attr/keycreate", "self/timens_offsets", "sys/kernel/shmmax", "self/attr/exec"]);
    // oom_score_adj on stage 0 itself, before any namespace is joined: the child inherits it.
    expect(writes[0]).toBeLessThan(recs.findIndex((r) => r.op === Op.SETNS));
    expect(ops(recs).filter((o) => o === Op.PROCFS_OPEN || o === Op.PROCFS_CLOSE)).toEqual([Op.PROCFS_OPEN, Op.PROCFS_CLOSE]);
    expect(recs[0].op).toBe(Op.PROCFS_OPEN);
    expect(recs.findIndex((r) => r.op === Op.SETNS)).toBeGreaterThan(0);
    const close = recs.findIndex((r) => r.op === Op.PROCFS_CLOSE);
    expect(close).toBe(writes[writes.length - 1]! + 1);
    // Closed before the init waits for `start` (it holds no host fd then) and before CLOEXEC_FROM.
    expect(close).toBeLessThan(recs.findIndex((r) => r.op === Op.CLOEXEC_FROM));
    expect(close).toBeLessThan(recs.findIndex((r) => r.op === Op.READY));
    // Nothing to write, no handle.
    expect(ops(plan(spec())).filter((o) => o === Op.PROCFS_OPEN || o === Op.PROCFS_CLOSE)).toEqual([]);
  });

  test("FIFO_CHECK: once every mount is made, before the filter and the wait", () => {
    const recs = plan(spec((s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["getpid"], action: "SCMP_ACT_ERRNO" }] })));
    const check = recs.findIndex((r) => r.op === Op.FIFO_CHECK);
    expect(check).toBeGreaterThan(recs.map((r) => r.op).lastIndexOf(Op.MOUNT));
    expect(check).toBeGreaterThan(recs.findIndex((r) => r.op === Op.PIVOT_ROOT));
    expect(check).toBeLessThan(recs.findIndex((r) => r.op === Op.SECCOMP));
    expect(check).toBeLessThan(recs.findIndex((r) => r.op === Op.WAIT_FIFO));
  });

  test("without host root, oomScoreAdj and timeOffsets are written while dumpable (the process's /proc files are then its own)", () => {
    const recs = plan(spec((s) => {
      s.process.oomScoreAdj = 500;
      s.linux.namespaces.push({ type: "user" }, { type: "time" });
      s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
      s.linux.timeOffsets = { monotonic: { secs: 1 } };
    }), { hostRoot: false }).filter((r) => r.op !== Op.PROCFS_CLOSE);
    for (const path of ["self/oom_score_adj", "self/timens_offsets"]) {
      const w = recs.findIndex((r) => r.op === Op.PROCFS_WRITE && r.strs![0] === path);
      expect(recs[w - 1]).toEqual({ op: Op.PRCTL, ints: [4, 1] });
      expect(recs[w + 1]).toEqual({ op: Op.PRCTL, ints: [4, 0] });
    }
    const root = plan(spec((s) => (s.process.oomScoreAdj = 500)), { hostRoot: true });
    expect(root[root.findIndex((r) => r.op === Op.PROCFS_WRITE) - 1].op).not.toBe(Op.PRCTL);
  });

  test("oomScoreAdj is written", () => {
    const recs = plan(spec((s) => { s.process.oomScoreAdj = -500; }));
    // Through the procfs handle: opened first, in stage 0, closed right after the last write.
    expect(recs[0]).toEqual({ op: Op.PROCFS_OPEN });
    expect(recs.findIndex((r) => r.op === Op.PROCFS_CLOSE)).toBe(recs.findIndex((r) => r.op === Op.PROCFS_WRITE) + 1);
    expect(one(recs, Op.PROCFS_WRITE)).toEqual({ op: Op.PROCFS_WRITE, strs: ["self/oom_score_adj", "-500", "/process/oomScoreAdj", " (a value below the one tsrun inherited needs CAP_SYS_RESOURCE)"] });
  });
});

describe("buildPlan: capabilities", () => {
  const three = CAP.AUDIT_WRITE | CAP.KILL | CAP.NET_BIND_SERVICE;

  test("bounding keeps only the listed caps, up to the host's last cap", () => {
    expect(ints(one(plan(spec()), Op.CAP_BOUNDING))).toEqual([three, 40n]);
  });

  test("CAPSET gets effective, permitted, inheritable masks after SETUSER", () => {
    const recs = plan(spec((s) => { s.process.capabilities.inheritable = ["CAP_KILL"]; }));
    expect(ints(one(recs, Op.CAPSET))).toEqual([three, three, CAP.KILL]);
    expect(idx(recs, Op.CAPSET)).toBeGreaterThan(idx(recs, Op.SETUSER));
    expect(idx(recs, Op.CAP_BOUNDING)).toBeLessThan(idx(recs, Op.SETUSER));
    // capabilities survive the uid change: keepcaps on before SETUSER, off after (and after the cwd retry)
    const keep = recs.filter((r) => r.op === Op.PRCTL).map((r) => [recs.indexOf(r), ints(r)[0], ints(r)[1]]);
    expect(keep).toEqual([[idx(recs, Op.SETUSER) - 1, 8n, 1n], [idx(recs, Op.SETUSER) + 2, 8n, 0n]]);
    expect(recs[idx(recs, Op.SETUSER) + 1]).toEqual({ op: Op.CHDIR_RETRY, strs: ["/"] });
  });

  test("ambient: only caps also permitted and inheritable are raised", () => {
    // busybox: ambient = permitted, no inheritable -> nothing can be raised
    expect(ops(plan(spec()))).not.toContain(Op.AMBIENT);
    const recs = plan(spec((s) => { s.process.capabilities.inheritable = ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_CHOWN"]; }));
    // CAP_CHOWN is inheritable but neither permitted nor ambient; NET_BIND_SERVICE is not inheritable
    expect(ints(one(recs, Op.AMBIENT))).toEqual([CAP.KILL | CAP.AUDIT_WRITE]);
  });

  test("no capabilities object: no capability records at all", () => {
    const recs = plan(spec((s) => { delete s.process.capabilities; }));
    for (const op of [Op.CAP_BOUNDING, Op.CAPSET, Op.AMBIENT, Op.PRCTL]) expect(ops(recs)).not.toContain(op);
  });

  test.each(["bounding", "effective", "permitted", "inheritable", "ambient"])(
    "a capability the host lacks (CAP_SYS_RESOURCE in %s) is a ConfigError naming the set",
    (set) => {
      const s = spec((x) => {
        x.process.capabilities[set] = [...(x.process.capabilities[set] ?? []), "CAP_SYS_RESOURCE"];
      });
      const e = configError(() => plan(s, { hostCaps: ALL_CAPS & ~CAP.SYS_RESOURCE }));
      expect(e.field).toBe(`/process/capabilities/${set}`);
      expect(e.message).toContain("CAP_SYS_RESOURCE");
      // with the host having it, the same config plans fine
      expect(() => plan(s)).not.toThrow();
    },
  );

  test("an unknown capability name is refused with its index", () => {
    expect(configError(() => plan(spec((s) => { s.process.capabilities.effective.push("CAP_NOPE"); }))).field).toBe("/process/capabilities/effective/3");
  });
});

describe("buildPlan: rlimits, user, umask, cwd, exec", () => {
  test("RLIMIT records: number, soft, hard", () => {
    expect(ints(one(plan(spec()), Op.RLIMIT))).toEqual([7n, 1024n, 1024n]);
  });

  test("2^64-1 (as JSON gives it) is RLIM_INFINITY", () => {
    const recs = plan(spec((s) => {
      s.process.rlimits = [{ type: "RLIMIT_CORE", soft: 18446744073709551615, hard: 18446744073709551615 }, { type: "RLIMIT_NOFILE", soft: 1024, hard: 18446744073709551615 }];
    }));
    const r = recs.filter((x) => x.op === Op.RLIMIT).map(ints);
    expect(r).toEqual([[4n, RLIM_INFINITY, RLIM_INFINITY], [7n, 1024n, RLIM_INFINITY]]);
  });

  test("soft above hard is refused with the rlimit's path", () => {
    expect(configError(() => plan(spec((s) => { s.process.rlimits.push({ type: "RLIMIT_NPROC", soft: 10, hard: 5 }); }))).field).toBe("/process/rlimits/1");
  });

  test("an unknown rlimit is refused with its type's path", () => {
    expect(configError(() => plan(spec((s) => { s.process.rlimits = [{ type: "RLIMIT_FOO", soft: 1, hard: 1 }]; }))).field).toBe("/process/rlimits/0/type");
  });

  test("SETUSER: uid, gid, setgroups=1, then the additional gids", () => {
    expect(ints(one(plan(spec()), Op.SETUSER))).toEqual([0n, 0n, 1n]);
    const recs = plan(spec((s) => { s.process.user = { uid: 1000, gid: 100, additionalGids: [10, 20] }; }));
    expect(ints(one(recs, Op.SETUSER))).toEqual([1000n, 100n, 1n, 10n, 20n]);
  });

  test("umask: 0022 by default, the configured one otherwise (the last UMASK before exec wins)", () => {
    const lastUmask = (recs: PlanRecord[]) => ints(recs.filter((r) => r.op === Op.UMASK).slice(-1)[0]);
    expect(lastUmask(plan(spec()))).toEqual([0o022n]);
    expect(lastUmask(plan(spec((s) => { s.process.user.umask = 0o077; })))).toEqual([0o077n]);
    expect(lastUmask(plan(spec((s) => { s.process.user.umask = 0; })))).toEqual([0n]);
    const recs = plan(spec());
    expect(recs.filter((r) => r.op === Op.UMASK).slice(-1)[0]).toBe(recs[idx(recs, Op.CHDIR) - 1]);
  });

  test("no_new_privs when asked", () => {
    expect(ops(plan(spec()))).toContain(Op.NO_NEW_PRIVS);
    expect(ops(plan(spec((s) => { s.process.noNewPrivileges = false; })))).not.toContain(Op.NO_NEW_PRIVS);
  });

  test("CHDIR to cwd", () => {
    expect(one(plan(spec((s) => { s.process.cwd = "/tmp/work"; })), Op.CHDIR).strs).toEqual(["/tmp/work"]);
  });

  test("CLOEXEC_FROM 3 + preserveFds", () => {
    expect(ints(one(plan(spec()), Op.CLOEXEC_FROM))).toEqual([3n]);
    expect(ints(one(plan(spec(), { preserveFds: 2 }), Op.CLOEXEC_FROM))).toEqual([5n]);
  });

  test("FIND_EXEC uses PATH from env, or the default path", () => {
    const recs = plan(spec((s) => { s.process.env = ["PATH=/opt/bin:/bin", "X=1"]; s.process.args = ["sh", "-c", "true"]; }));
    expect(one(recs, Op.FIND_EXEC).strs).toEqual(["/opt/bin:/bin", "sh"]);
    const noPath = plan(spec((s) => { s.process.env = ["TERM=xterm"]; s.process.args = ["ls"]; }));
    expect(one(noPath, Op.FIND_EXEC).strs).toEqual([DEFAULT_PATH, "ls"]);
    expect(DEFAULT_PATH).toBe("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  });

  test("the end: fds marked and the cwd entered as root, then the user, FIND_EXEC, READY, WAIT_FIFO, STARTED, EXEC", () => {
    const recs = plan(spec());
    const from = idx(recs, Op.CLOEXEC_FROM);
    expect(ops(recs).slice(from)).toEqual([
      Op.CLOEXEC_FROM, Op.UMASK, Op.CHDIR, Op.CAP_BOUNDING, Op.PRCTL, Op.SETUSER, Op.CHDIR_RETRY, Op.PRCTL, Op.CAPSET, Op.NO_NEW_PRIVS,
      Op.FIND_EXEC, Op.READY, Op.WAIT_FIFO, Op.STARTED, Op.EXEC,
    ]);
  });

  test("CHDIR_RETRY names the cwd; a config without process has neither", () => {
    const recs = plan(spec((s) => { s.process.cwd = "/srv"; }));
    expect(one(recs, Op.CHDIR_RETRY).strs).toEqual(["/srv"]);
    expect(ops(plan(spec((s) => { delete s.process; })))).not.toContain(Op.CHDIR_RETRY);
  });

  test("EXEC: argc, argv, then env with HOME from the rootfs's /etc/passwd", () => {
    const exec = one(plan(spec()), Op.EXEC);
    expect(ints(exec)).toEqual([2n]);
    expect(exec.strs).toEqual(["/bin/sh", "/demo.sh", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/root"]);
    const alice = one(plan(spec((s) => { s.process.user = { uid: 1000, gid: 1000 }; })), Op.EXEC);
    expect(alice.strs!.slice(-1)).toEqual(["HOME=/home/alice"]);
  });

  test("HOME in env is kept as it is", () => {
    const exec = one(plan(spec((s) => { s.process.env = ["HOME=/data", "A=b"]; })), Op.EXEC);
    expect(exec.strs!.slice(2)).toEqual(["HOME=/data", "A=b"]);
  });

  test("HOME is / when the uid is not in /etc/passwd, or there is no /etc/passwd", () => {
    expect(one(plan(spec((s) => { s.process.user.uid = 4242; })), Op.EXEC).strs!.slice(-1)).toEqual(["HOME=/"]);
    expect(one(plan(spec(), { rootfs: bareRootfs }), Op.EXEC).strs!.slice(-1)).toEqual(["HOME=/"]);
  });

  test("a config without process ends with READY, WAIT_FIFO, STARTED and has no EXEC", () => {
    const recs = plan(spec((s) => { delete s.process; }));
    expect(ops(recs).slice(-3)).toEqual([Op.READY, Op.WAIT_FIFO, Op.STARTED]);
    for (const op of [Op.EXEC, Op.FIND_EXEC, Op.SETUSER, Op.CAPSET, Op.CHDIR]) expect(ops(recs)).not.toContain(op);
    expect(ops(recs).slice(-4)).toEqual([Op.CLOEXEC_FROM, Op.READY, Op.WAIT_FIFO, Op.STARTED]);
  });
});

describe("buildPlan: refused configs", () => {
  test("no mount namespace with masked or read-only paths (runc refuses them too)", () => {
    const noMnt = (s: any) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "mount")); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(configError(() => plan(spec(noMnt))).field).toBe("/linux/maskedPaths");
    expect(configError(() => plan(spec((s) => { noMnt(s); s.linux.maskedPaths = []; }))).field).toBe("/linux/readonlyPaths");
  });

  test("hostname without a uts namespace", () => {
    const e = configError(() => plan(spec((s) => { s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "uts"); }))); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(e.field).toBe("/hostname");
    // an empty hostname needs nothing
    expect(() => plan(spec((s) => { s.hostname = ""; s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "uts"); }))).not.toThrow(); // eslint-disable-line @typescript-eslint/no-explicit-any
  });

  test("domainname without a uts namespace", () => {
    const e = configError(() => plan(spec((s) => { delete s.hostname; s.domainname = "x.org"; s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== "uts"); }))); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(e.field).toBe("/domainname");
  });

  test("timeOffsets without a time namespace", () => {
    expect(configError(() => plan(spec((s) => { s.linux.timeOffsets = { monotonic: { secs: 1 } }; }))).field).toBe("/linux/timeOffsets");
  });

  test("a new user namespace without uid or gid mappings", () => {
    expect(configError(() => plan(spec((s) => { s.linux.namespaces.push({ type: "user" }); }))).field).toBe("/linux/uidMappings");
    expect(configError(() => plan(spec((s) => {
      s.linux.namespaces.push({ type: "user" });
      s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    }))).field).toBe("/linux/gidMappings");
  });

  test("a relative cwd", () => {
    expect(configError(() => plan(spec((s) => { s.process.cwd = "tmp"; }))).field).toBe("/process/cwd");
  });

  test("empty or missing args", () => {
    expect(configError(() => plan(spec((s) => { s.process.args = []; }))).field).toBe("/process/args");
    expect(configError(() => plan(spec((s) => { delete s.process.args; }))).field).toBe("/process/args");
  });
});

describe("buildPlan: linux.mountLabel", () => {
  const withLabel = (s: any) => (s.linux.mountLabel = "system_u:object_r:container_file_t:s0"); // eslint-disable-line @typescript-eslint/no-explicit-any
  const full = (selinux: boolean) =>
    buildPlan({
      spec: spec(withLabel), rootfs, bundle, fifoPath: "/run/tsrun/c1/exec.fifo", noPivot: false, preserveFds: 0, foreground: false,
      cgroupMounts: cgroupMountsOf("/tsrun/c1", HYBRID), cgroupJoin: { cloneInto: "", selfTasks: [] }, hostCaps: ALL_CAPS, lastCap: 40, selinux,
    });

  test("without SELinux: one warning naming the field, and no context= anywhere", () => {
    const p = full(false);
    expect(p.warnings).toEqual([expect.stringMatching(/^linux\.mountLabel .* ignored: SELinux is not enabled/)]);
    expect(p.records.some((r) => r.op === Op.MOUNT && r.strs![3].includes("context="))).toBe(false);
  });

  test("with SELinux: no warning, the tmpfs mounts carry the label", () => {
    const p = full(true);
    expect(p.warnings).toEqual([]);
    const tmpfs = p.records.filter((r) => r.op === Op.MOUNT && r.strs![2] === "tmpfs" && r.strs![4] !== "" && !r.strs![1].includes("/sys/fs/cgroup"));
    expect(tmpfs.length).toBeGreaterThan(0);
    for (const r of tmpfs) expect(r.strs![3]).toContain('context="system_u:object_r:container_file_t:s0"');
  });

  test("a config without mountLabel has no warnings", () => {
    expect(buildPlan({
      spec: spec(), rootfs, bundle, fifoPath: "/f", noPivot: false, preserveFds: 0, foreground: false,
      cgroupMounts: cgroupMountsOf("/tsrun/c1", HYBRID), cgroupJoin: { cloneInto: "", selfTasks: [] }, hostCaps: ALL_CAPS, lastCap: 40,
    }).warnings).toEqual([]);
  });
});

describe("buildPlan: process.terminal", () => {
  const withTerminal = (edit: (s: any) => void = () => {}) => spec((s) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    s.process.terminal = true;
    edit(s);
  });

  test("every init gets a session of its own, after it became root of its user namespace", () => {
    const recs = plan(spec());
    one(recs, Op.SETSID);
    expect(idx(recs, Op.SETSID)).toBeGreaterThan(idx(recs, Op.SYNC));
    expect(idx(recs, Op.SETSID)).toBeLessThan(idx(recs, Op.PIVOT_ROOT));
  });

  test("no terminal: no console records", () => {
    const recs = plan(spec());
    for (const op of [Op.CONSOLE_SOCKET, Op.CONSOLE_PAIR, Op.PTY]) expect(idx(recs, op)).toBe(-1);
  });

  test("--console-socket: connected first of all in stage 0 (a host path), the pty made after the pivot, before / is read-only and before the user changes", () => {
    const recs = plan(withTerminal((s) => {
      s.process.user = { uid: 1000, gid: 1000 };
      s.process.consoleSize = { height: 30, width: 100 };
      s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === "network" ? { type: "network", path: "/run/netns/x" } : n));
    }), { consoleSocket: "/run/conmon/c1.sock" });
    expect(recs[0]).toEqual({ op: Op.CONSOLE_SOCKET, strs: ["/run/conmon/c1.sock"] });
    expect(idx(recs, Op.CONSOLE_SOCKET)).toBeLessThan(idx(recs, Op.SETNS));
    const pty = one(recs, Op.PTY);
    expect(ints(pty)).toEqual([30n, 100n, 1000n, 1n]);
    expect(pty.strs).toEqual(["/dev/pts/ptmx", "/dev/ptmx"]);
    const at = idx(recs, Op.PTY);
    expect(at).toBeGreaterThan(idx(recs, Op.PIVOT_ROOT));
    expect(at).toBeGreaterThan(recs.map((r) => r.op).lastIndexOf(Op.SYMLINK));
    const roRemount = recs.findIndex((r) => r.op === Op.MOUNT && r.strs?.[1] === "/" && (BigInt(r.ints![0]) & BigInt(MS.RDONLY)) !== 0n);
    expect(roRemount).toBeGreaterThan(at);
    expect(at).toBeLessThan(idx(recs, Op.SETUSER));
    expect(at).toBeLessThan(idx(recs, Op.CLOEXEC_FROM));
    expect(idx(recs, Op.SETSID)).toBeLessThan(at);
    expect(idx(recs, Op.CONSOLE_PAIR)).toBe(-1);
  });

  test("foreground without a socket: a pair to stage 0 before the clone, no console size unless asked", () => {
    const recs = plan(withTerminal(), { foreground: true });
    expect(recs[0]).toEqual({ op: Op.CONSOLE_PAIR });
    expect(ints(one(recs, Op.CLONE))[1]).toBe(1n);
    expect(ints(one(recs, Op.PTY))).toEqual([0n, 0n, 0n, 1n]);
    expect(idx(recs, Op.CONSOLE_SOCKET)).toBe(-1);
  });

  test("runc's console rules: detached needs a socket; a socket needs a terminal and a detached container", () => {
    expect(() => plan(withTerminal())).toThrow(/no --console-socket was given/);
    expect(() => plan(spec(), { consoleSocket: "/s" })).toThrow(/no terminal was asked for/);
    expect(() => plan(withTerminal(), { consoleSocket: "/s", foreground: true })).toThrow(/only for a detached process/);
  });

  test("consoleSize out of range names the field", () => {
    expect(configError(() => plan(withTerminal((s) => { s.process.consoleSize = { height: 70000, width: 80 }; }), { foreground: true })).field)
      .toBe("/process/consoleSize/height");
  });
});

describe("buildPlan: --pidfd-socket (runc 1.2+)", () => {
  test("connected in stage 0 before any namespace is joined; the init sends its pidfd once in its cgroup, before the filter", () => {
    const recs = plan(spec((s) => {
      s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === "network" ? { type: "network", path: "/run/netns/x" } : n));
      s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["kexec_load"], action: "SCMP_ACT_ERRNO" }] };
    }), { pidfdSocket: "/run/containerd/p.sock" });
    expect(one(recs, Op.PIDFD_SOCKET).strs).toEqual(["/run/containerd/p.sock"]);
    expect(idx(recs, Op.PIDFD_SOCKET)).toBeLessThan(idx(recs, Op.SETNS));
    // runc's payload from create's init is its init type
    expect(one(recs, Op.PIDFD_SEND).strs).toEqual(["standard"]);
    const send = idx(recs, Op.PIDFD_SEND);
    expect(send).toBeGreaterThan(idx(recs, Op.SYNC));
    expect(send).toBeGreaterThan(idx(recs, Op.CLONE));
    expect(send).toBeLessThan(idx(recs, Op.SECCOMP));
    expect(send).toBeLessThan(idx(recs, Op.WAIT_FIFO));
  });

  test("beside --console-socket both come first; a relative path is the caller's; none without the flag", () => {
    const recs = plan(spec((s) => { s.process.terminal = true; }), { consoleSocket: "/run/c.sock", pidfdSocket: "rel/p.sock" });
    expect(recs.slice(0, 2).map((r) => r.op).sort()).toEqual([Op.CONSOLE_SOCKET, Op.PIDFD_SOCKET].sort());
    expect(one(recs, Op.PIDFD_SOCKET).strs).toEqual([join(process.cwd(), "rel/p.sock")]);
    const none = plan(spec());
    expect(idx(none, Op.PIDFD_SOCKET)).toBe(-1);
    expect(idx(none, Op.PIDFD_SEND)).toBe(-1);
  });

  test("a path longer than sun_path is refused before anything runs", () => {
    expect(() => plan(spec(), { pidfdSocket: `/${"x".repeat(120)}` })).toThrow(/--pidfd-socket .*path too long/);
    expect(() => plan(spec(), { pidfdSocket: "" })).toThrow(/--pidfd-socket: the path is empty/);
  });
});
