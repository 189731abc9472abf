/**
 * Issue 16, mounts and devices in a user namespace and for a rootless tsrun (src/fs/rootfs-plan.ts,
 * src/fs/layers.ts, and how planCreate feeds them): proc and mqueue need the container's own pid and ipc
 * namespaces, sysfs without a network namespace of its own becomes a recursive bind of /sys, devices are
 * bound from the host, remounts keep the flags the kernel locked, overlays need their upper's owner mapped.
 * Pure: fake host facts, no root.
 */
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/errors.js";
import { resolveLayers } from "../../src/fs/layers.js";
import { MOUNT_ATTR, MS } from "../../src/fs/mount-flags.js";
import { type ConfigMount, type RootfsInput, planRootfs } from "../../src/fs/rootfs-plan.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import { type CreatePlanInput, planCreate } from "../../src/plan/create-plan.js";
import type { Rootless } from "../../src/security/rootless.js";
import { writePlanBundle } from "../helpers/plan-bundles.js";


let work: string;
let rootfs: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "tsrun-rootless-mounts-"));
  rootfs = join(work, "rootfs");
  mkdirSync(rootfs);
  mkdirSync(join(work, "layers/base"), { recursive: true });
  mkdirSync(join(work, "src"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function input(over: Partial<RootfsInput> = {}): RootfsInput {
  return {
    rootfs,
    bundle: work,
    mounts: [],
    readonly: false,
    noPivot: false,
    cgroupns: false,
    cgroupMounts: cgroupMountsOf("/tsrun/c1", [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }]),
    ...over,
  };
}

/** A container with a user namespace of its own and the given other namespaces of its own. */
const inUserNs = (own: { pidns?: boolean; netns?: boolean; ipcns?: boolean }, mounts: ConfigMount[]): Partial<RootfsInput> => ({
  userNs: true,
  unprivileged: true,
  pidns: own.pidns ?? false,
  netns: own.netns ?? false,
  ipcns: own.ipcns ?? false,
  mounts,
});

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("not refused");
}

const ofOp = (recs: PlanRecord[], op: number) => recs.filter((r) => r.op === op);
const targetIs = (t: string) => (r: PlanRecord) => r.strs![r.op === Op.MOUNT ? 1 : 0] === t;

describe("proc and mqueue: only of the container's own pid and ipc namespaces", () => {
  const proc = { destination: "/proc", type: "proc", source: "proc" };
  const mqueue = { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid"] };

  test("a user namespace of its own without a pid namespace of its own: proc is refused, naming the mount", () => {
    const e = refusal(() => planRootfs(input(inUserNs({}, [{ destination: "/t", type: "tmpfs" }, proc]))));
    expect(e.field).toBe("/mounts/1");
    expect(e.message).toMatch(/proc at \/proc needs the container's own pid namespace: .*add \{"type": "pid"\} to \/linux\/namespaces/);
  });

  test("without an ipc namespace of its own: mqueue is refused the same way", () => {
    const e = refusal(() => planRootfs(input(inUserNs({ pidns: true }, [proc, mqueue]))));
    expect(e.field).toBe("/mounts/1");
    expect(e.message).toMatch(/mqueue at \/dev\/mqueue needs the container's own ipc namespace/);
  });

  test("with them (new or joined), or without a user namespace of its own, both are mounted", () => {
    for (const over of [inUserNs({ pidns: true, ipcns: true }, [proc, mqueue]), { mounts: [proc, mqueue] }, { unprivileged: true, mounts: [proc, mqueue] }]) {
      const recs = planRootfs(input(over));
      expect(ofOp(recs, Op.MOUNT).map((r) => r.strs![2]).filter(Boolean)).toEqual(["proc", "mqueue"]);
    }
  });
});

describe("sysfs without a network namespace of its own", () => {
  const sysfs = (options: string[]) => ({ destination: "/sys", type: "sysfs", source: "sysfs", options });

  test("in a user namespace of its own: the host's /sys bound recursively, read-only with the flags asked on every mount", () => {
    const recs = planRootfs(input(inUserNs({ pidns: true }, [sysfs(["nosuid", "noexec", "nodev", "relatime"])])));
    const at = join(rootfs, "sys");
    const m = ofOp(recs, Op.MOUNT).filter(targetIs(at));
    expect(m.map((r) => [Number(r.ints![0]), r.strs![0], r.strs![2]])).toEqual([[MS.BIND | MS.REC, "/sys", ""]]);
    // recursive (the 4th int), no atime change: a locked mount under /sys may have another atime mode
    const set = ofOp(recs, Op.MOUNT_SETATTR).filter(targetIs(at));
    expect(set.map((r) => r.ints!.map(Number))).toEqual([[MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC, 0, 0, 1]]);
    expect(set[0].strs).toEqual([at, rootfs]);
  });

  test("read-only even when the config says rw, as a fresh sysfs of the host's network namespace is", () => {
    const recs = planRootfs(input(inUserNs({ pidns: true }, [sysfs(["rw"])])));
    expect(ofOp(recs, Op.MOUNT_SETATTR).map((r) => Number(r.ints![0]))).toEqual([MOUNT_ATTR.RDONLY]);
  });

  test("with a network namespace of its own, or without a user namespace of its own: a fresh sysfs", () => {
    for (const over of [inUserNs({ pidns: true, netns: true }, [sysfs(["nosuid"])]), { netns: false, mounts: [sysfs(["nosuid"])] }]) {
      const recs = planRootfs(input(over));
      expect(ofOp(recs, Op.MOUNT).filter((r) => r.strs![2] === "sysfs")).toHaveLength(1);
      expect(ofOp(recs, Op.MOUNT).some((r) => r.strs![0] === "/sys")).toBe(false);
    }
  });
});

describe("devices: mknod only where tsrun can (host root in the initial user namespace)", () => {
  const nodes = (over: Partial<RootfsInput>) => {
    const recs = planRootfs(input(over));
    return { mknod: ofOp(recs, Op.MKNOD).length, binds: ofOp(recs, Op.MOUNT).filter((r) => r.strs![0].startsWith("/dev/")).length };
  };

  test("host root: made with mknod; unprivileged (a user namespace, or tsrun rootless without one): bound", () => {
    expect(nodes({})).toEqual({ mknod: 6, binds: 0 });
    expect(nodes({ unprivileged: true })).toEqual({ mknod: 0, binds: 6 });
    expect(nodes({ unprivileged: true, devices: [{ type: "c", path: "/dev/fuse", major: 10, minor: 229 }] })).toEqual({ mknod: 0, binds: 7 });
  });
});

describe("remounts keep the flags the kernel locked (unprivileged)", () => {
  test("a bind's flags: mount_setattr of only those (the source's nosuid, nodev, ... stay); host root: a mount(2) remount", () => {
    const bind = { destination: "/data", type: "bind", source: join(work, "src"), options: ["rbind", "ro", "noatime"] };
    const target = join(rootfs, "data");
    const unpriv = planRootfs(input({ unprivileged: true, mounts: [bind] }));
    expect(ofOp(unpriv, Op.MOUNT_SETATTR).map((r) => [...r.ints!.map(Number), ...r.strs!])).toEqual([
      [MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOATIME, MOUNT_ATTR._ATIME, 0, 0, target, rootfs],
    ]);
    expect(ofOp(unpriv, Op.MOUNT).filter(targetIs(target)).map((r) => Number(r.ints![0]))).toEqual([MS.BIND | MS.REC]);
    const root = planRootfs(input({ mounts: [bind] }));
    expect(ofOp(root, Op.MOUNT_SETATTR)).toHaveLength(0);
    expect(ofOp(root, Op.MOUNT).filter(targetIs(target)).map((r) => Number(r.ints![0]))).toEqual([MS.BIND | MS.REC, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOATIME]);
  });

  test("root.readonly: mount_setattr ro on / (the rootfs is a bind of a maybe nosuid,nodev filesystem)", () => {
    const recs = planRootfs(input({ unprivileged: true, readonly: true }));
    expect(ofOp(recs, Op.MOUNT_SETATTR).map((r) => [...r.ints!.map(Number), ...r.strs!])).toEqual([[MOUNT_ATTR.RDONLY, 0, 0, 0, "/", ""]]);
    expect(ofOp(recs, Op.MOUNT).some((r) => Number(r.ints![0]) & MS.REMOUNT)).toBe(false);
    expect(ofOp(planRootfs(input({ readonly: true })), Op.MOUNT_SETATTR)).toHaveLength(0);
  });

  test("a cgroup bound without a cgroup namespace: its flags set by mount_setattr, without the atime ones", () => {
    const cg = { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] };
    const recs = planRootfs(input({ unprivileged: true, mounts: [cg] }));
    const at = join(rootfs, "sys/fs/cgroup");
    expect(ofOp(recs, Op.MOUNT).filter(targetIs(at)).map((r) => Number(r.ints![0]))).toEqual([MS.BIND | MS.REC]);
    expect(ofOp(recs, Op.MOUNT_SETATTR).filter(targetIs(at)).map((r) => r.ints!.map(Number))).toEqual([
      [MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC, 0, 0, 0],
    ]);
  });

  test("fresh filesystems (tmpfs, /dev) have no locked flags: their read-only remounts stay mount(2)", () => {
    const recs = planRootfs(input({ unprivileged: true, mounts: [{ destination: "/t", type: "tmpfs", options: ["ro", "nosuid"] }] }));
    expect(ofOp(recs, Op.MOUNT_SETATTR)).toHaveLength(0);
    expect(ofOp(recs, Op.MOUNT).filter(targetIs(join(rootfs, "t"))).map((r) => Number(r.ints![0]))).toEqual([MS.NOSUID, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID]);
  });
});

describe("tsrun.layers with a new user namespace: the owner of the upper and work dirs must be mapped", () => {
  let opts: { bundle: string; stateDir: string; newMountNs: boolean };
  beforeAll(() => (opts = { bundle: work, stateDir: "/run/user/1500/tsrun/c1", newMountNs: true }));
  const own = { uid: [{ hostID: 1500, size: 1 }], gid: [{ hostID: 1600, size: 1 }] };
  const subs = { uid: [{ hostID: 100000, size: 65536 }], gid: [{ hostID: 100000, size: 65536 }] };

  test("a rootless caller mapped: the upper in its state dir, userxattr", () => {
    expect(resolveLayers({ layers: ["layers/base"] }, { ...opts, newUserMaps: own, owner: { uid: 1500, gid: 1600 }, unprivileged: true })).toEqual({
      lowers: [join(work, "layers/base")],
      upper: "/run/user/1500/tsrun/c1/upper",
      work: "/run/user/1500/tsrun/c1/work",
      persistent: false,
      userxattr: true,
    });
  });

  test.each([
    ["only subordinate ids mapped", subs, /\/upper will be made by tsrun's caller, uid 1500 gid 1600, and host uid 1500 is not mapped in \/linux\/uidMappings$/],
    ["the uid but not the gid", { uid: own.uid, gid: subs.gid }, /host gid 1600 is not mapped in \/linux\/gidMappings$/],
  ])("%s: refused naming /tsrun/layers", (_n, maps, message) => {
    const e = refusal(() => resolveLayers({ layers: ["layers/base"] }, { ...opts, newUserMaps: maps, owner: { uid: 1500, gid: 1600 }, unprivileged: true }));
    expect(e.field).toBe("/tsrun/layers");
    expect(e.message).toMatch(message);
  });

  test("an existing persistent upper: its own owner must be mapped", () => {
    const up = join(work, "persist-up");
    mkdirSync(up, { recursive: true });
    const owner = (process.getuid?.() ?? 0) === 0 ? 0 : process.getuid!();
    const e = refusal(() => resolveLayers({ layers: ["layers/base"], upperDir: up }, { ...opts, newUserMaps: own, owner: { uid: 1500, gid: 1600 } }));
    expect(e.message).toContain(`${up} belongs to uid ${owner}`);
  });

  test("no new user namespace: nothing to map; joined or rootless: still userxattr", () => {
    expect(resolveLayers({ layers: ["layers/base"] }, { ...opts, owner: { uid: 1500, gid: 1600 }, unprivileged: true })).toMatchObject({ userxattr: true });
    expect(resolveLayers({ layers: ["layers/base"] }, opts)).toMatchObject({ userxattr: false });
  });
});

describe("planCreate: host.rootless feeds the mount rules", () => {
  let n = 0;
  function bundle(edit: (c: any) => void): string { // eslint-disable-line @typescript-eslint/no-explicit-any
    return writePlanBundle(join(work, `b${n++}`), edit);
  }
  const host = (rootless?: Rootless): CreatePlanInput["host"] => ({
    cgroups: (path) => cgroupDriver(path, { hierarchies: [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "cpu memory pids" }] }),
    hostCaps: (1n << 41n) - 1n,
    lastCap: 40,
    isHostNetns: () => false,
    selinux: false,
    ...(rootless ? { rootless } : {}),
  });
  const plan = (dir: string, rootless?: Rootless) =>
    planCreate({ id: "c1", bundle: dir, stateDir: join(work, "state/c1"), fifoPath: join(work, "state/c1/exec.fifo"), host: host(rootless) });

  // Root of rootless podman's user namespace: euid 0, cgroups not writable, the config without a user namespace.
  const podman: Rootless = { euid: 0, egid: 0, nonRootEuid: false, cgroups: true };

  test("root of a user namespace, no user namespace in the config: devices bound, bind flags kept, overlay with userxattr", () => {
    const dir = bundle((c) => {
      c.mounts.push({ destination: "/data", type: "bind", source: work, options: ["rbind", "ro"] });
      c.tsrun = { layers: [join(work, "layers/base")] };
    });
    const recs = plan(dir, podman).launch.records;
    expect(ofOp(recs, Op.MKNOD)).toHaveLength(1); // the exec fifo only
    expect(ofOp(recs, Op.MOUNT).filter((r) => r.strs![0] === "/dev/null")).toHaveLength(1);
    expect(ofOp(recs, Op.MOUNT_SETATTR).filter(targetIs(join(dir, "rootfs/data")))).toHaveLength(1);
    expect(plan(dir, podman).layers?.userxattr).toBe(true);
    // the same config as host root: mknod, mount(2) remounts, trusted.* xattrs
    const asRoot = plan(dir);
    expect(ofOp(asRoot.launch.records, Op.MKNOD)).toHaveLength(7);
    expect(ofOp(asRoot.launch.records, Op.MOUNT_SETATTR)).toHaveLength(0);
    expect(asRoot.layers?.userxattr).toBe(false);
  });

  test("a rootless user with a user namespace mapping itself: layers in its state dir; no sysfs or proc it may not mount", () => {
    const me: Rootless = { euid: 1500, egid: 1600, nonRootEuid: true, cgroups: true };
    const map = (id: number) => [{ containerID: 0, hostID: id, size: 1 }];
    const dir = bundle((c) => {
      c.linux.namespaces = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "user" }];
      c.linux.uidMappings = map(1500);
      c.linux.gidMappings = map(1600);
      c.mounts = c.mounts.filter((m: ConfigMount) => m.type !== "cgroup");
      c.mounts.find((m: ConfigMount) => m.type === "devpts").options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"];
      c.tsrun = { layers: [join(work, "layers/base")] };
    });
    const p = planCreate({
      id: "c1",
      bundle: dir,
      stateDir: "/run/user/1500/tsrun/c1",
      fifoPath: "/run/user/1500/tsrun/c1/exec.fifo",
      host: { ...host(me), idMapFacts: { euid: 1500, egid: 1600, name: "u", subuids: [], subgids: [] } },
    });
    expect(p.layers).toMatchObject({ upper: "/run/user/1500/tsrun/c1/upper", userxattr: true });
    const recs = p.launch.records;
    // no network namespace of its own: /sys is the host's, bound; stage 0 (not root) opens no bind sources
    expect(ofOp(recs, Op.MOUNT).filter((r) => r.strs![0] === "/sys").map((r) => Number(r.ints![0]))).toEqual([MS.BIND | MS.REC]);
    expect(ofOp(recs, Op.BIND_SOURCES)).toHaveLength(0);

    // the same user, a map of subordinate ids only: the upper it makes would not be mapped
    const subOnly = bundle((c) => {
      c.linux.namespaces = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "user" }, { type: "network" }];
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.tsrun = { layers: [join(work, "layers/base")] };
    });
    const facts = { euid: 1500, egid: 1600, name: "u", subuids: [{ start: 100000, count: 65536 }], subgids: [{ start: 100000, count: 65536 }], newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap" };
    const e = refusal(() => planCreate({ id: "c1", bundle: subOnly, stateDir: "/run/user/1500/tsrun/c1", fifoPath: "/x", host: { ...host(me), idMapFacts: facts } }));
    expect(e.field).toBe("/tsrun/layers");
    expect(e.message).toMatch(/uid 1500 gid 1600, and host uid 1500 is not mapped in \/linux\/uidMappings$/);
  });
});
