/**
 * src/fs/rootfs-plan.ts and src/fs/masked-paths.ts: the mount records of a new mount namespace.
 */
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { ConfigError, PathError } from "../../src/errors.js";
import { MOUNT_ATTR, MS } from "../../src/fs/mount-flags.js";
import { planMaskedAndReadonly } from "../../src/fs/masked-paths.js";
import { type RootfsInput, planRootUnbindable, planRootfs } from "../../src/fs/rootfs-plan.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";

let bundle: string;
let rootfs: string;

beforeAll(() => {
  bundle = mkdtempSync(join(tmpdir(), "tsrun-rootfs-test-"));
  rootfs = join(bundle, "rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  mkdirSync(join(rootfs, "data"), { recursive: true });
  writeFileSync(join(rootfs, "etc", "hosts"), "127.0.0.1 localhost\n");
  mkdirSync(join(bundle, "shared"));
  writeFileSync(join(bundle, "resolv.conf"), "nameserver 1.1.1.1\n");
});

afterAll(() => {
  rmSync(bundle, { recursive: true, force: true });
});

interface MountRec {
  flags: number;
  mkdir: number;
  source: string;
  target: string;
  fstype: string;
  data: string;
  root: string;
}

function asMount(r: PlanRecord): MountRec {
  expect(r.op).toBe(Op.MOUNT);
  const [flags, mkdir] = (r.ints ?? []).map(Number);
  const [source, target, fstype, data, root] = r.strs ?? [];
  return { flags, mkdir, source, target, fstype, data, root };
}

const mounts = (recs: PlanRecord[]): MountRec[] => recs.filter((r) => r.op === Op.MOUNT).map(asMount);

function input(over: Partial<RootfsInput> = {}): RootfsInput {
  return {
    rootfs,
    bundle,
    mounts: [],
    readonly: false,
    noPivot: false,
    cgroupns: false,
    cgroupMounts: cgroupMountsOf("/tsrun/c1", [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }]),
    ...over,
  };
}

const HYBRID: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", version: 1, controllers: "cpu,cpuacct" },
  { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
  { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: "name=systemd" },
  { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
];

describe("planRootfs: the root", () => {
  test("first / is made rslave, then the rootfs is bound onto itself", () => {
    const recs = planRootfs(input());
    expect(asMount(recs[0])).toEqual({ flags: MS.SLAVE | MS.REC, mkdir: 0, source: "", target: "/", fstype: "", data: "", root: "" });
    expect(asMount(recs[1])).toEqual({ flags: MS.BIND | MS.REC, mkdir: 0, source: rootfs, target: rootfs, fstype: "", data: "", root: "" });
  });

  test("a configured non-shared rootfsPropagation is used before the pivot only (config mounts keep theirs)", () => {
    const recs = planRootfs(input({ rootfsPropagation: "rprivate", mounts: [{ destination: "/s", type: "tmpfs", options: ["shared"] }] }));
    expect(asMount(recs[0]).flags).toBe(MS.PRIVATE | MS.REC);
    const pivot = recs.findIndex((r) => r.op === Op.PIVOT_ROOT);
    expect(recs.slice(pivot + 1).filter((r) => r.op === Op.MOUNT)).toEqual([]);
  });

  test.each([["shared", MS.SHARED], ["rshared", MS.SHARED | MS.REC]])(
    "a %s root is slave before the pivot (pivot_root refuses shared), shared after it",
    (prop, flags) => {
      const recs = planRootfs(input({ rootfsPropagation: prop }));
      expect(asMount(recs[0]).flags).toBe(MS.SLAVE | MS.REC);
      const pivot = recs.findIndex((r) => r.op === Op.PIVOT_ROOT);
      expect(pivot).toBeGreaterThan(0);
      const last = asMount(recs[recs.length - 1]);
      expect(last.target).toBe("/");
      expect(last.flags).toBe(flags);
    },
  );

  test("a shared root whose rootfs sits on a shared mount: / stays shared (peers of the host's mounts), that mount is made private before the rootfs's bind", () => {
    const recs = planRootfs(input({ rootfsPropagation: "rshared", rootfsParent: { mountPoint: "/run/ctrd/rootfs", shared: true } }));
    expect(mounts(recs).slice(0, 3)).toEqual([
      { flags: MS.SHARED | MS.REC, mkdir: 0, source: "", target: "/", fstype: "", data: "", root: "" },
      { flags: MS.PRIVATE, mkdir: 0, source: "", target: "/run/ctrd/rootfs", fstype: "", data: "", root: "" },
      { flags: MS.BIND | MS.REC, mkdir: 0, source: rootfs, target: rootfs, fstype: "", data: "", root: "" },
    ]);
    expect(mounts(recs).some((m) => m.flags & MS.SLAVE)).toBe(false);
    // rshared made a private parent shared too: it is made private again.
    const made = planRootfs(input({ rootfsPropagation: "rshared", rootfsParent: { mountPoint: "/x", shared: false } }));
    expect(mounts(made).slice(0, 2).map((m) => [m.flags, m.target])).toEqual([[MS.SHARED | MS.REC, "/"], [MS.PRIVATE, "/x"]]);
    // A parent that "shared" (not recursive) on "/" did not reach, and that was not shared, is left as it is.
    const plain = planRootfs(input({ rootfsPropagation: "shared", rootfsParent: { mountPoint: "/x", shared: false } }));
    expect(mounts(plain).slice(0, 2).map((m) => [m.flags, m.target])).toEqual([[MS.SHARED, "/"], [MS.BIND | MS.REC, rootfs]]);
  });

  test.each([["unbindable", MS.UNBINDABLE], ["runbindable", MS.UNBINDABLE | MS.REC]])(
    "a %s root is rslave until the end (the rootfs must be bound first), made unbindable last by planRootUnbindable",
    (prop, flags) => {
      const recs = planRootfs(input({ rootfsPropagation: prop }));
      expect(asMount(recs[0]).flags).toBe(MS.SLAVE | MS.REC);
      expect(mounts(recs).some((m) => m.flags & MS.UNBINDABLE)).toBe(false);
      expect(planRootUnbindable(prop).map(asMount)).toEqual([{ flags, mkdir: 0, source: "", target: "/", fstype: "", data: "", root: "" }]);
      for (const other of [undefined, "private", "rshared"]) expect(planRootUnbindable(other)).toEqual([]);
    },
  );

  test("no mount namespace: / is left alone, the rootfs's bind takes the propagation, CHROOT is the switch", () => {
    const recs = planRootfs(input({ noMountNs: true, noPivot: true, rootfsPropagation: "rprivate" }));
    expect(mounts(recs).slice(0, 2)).toEqual([
      { flags: MS.BIND | MS.REC, mkdir: 0, source: rootfs, target: rootfs, fstype: "", data: "", root: "" },
      { flags: MS.PRIVATE | MS.REC, mkdir: 0, source: "", target: rootfs, fstype: "", data: "", root: "" },
    ]);
    expect(recs.filter((r) => [Op.CHROOT, Op.PIVOT_ROOT, Op.MOVE_ROOT].includes(r.op))).toEqual([{ op: Op.CHROOT, strs: [rootfs] }]);
  });

  test("an unknown rootfsPropagation is a ConfigError naming it", () => {
    expect(() => planRootfs(input({ rootfsPropagation: "sideways" }))).toThrow(ConfigError);
    expect(() => planRootfs(input({ rootfsPropagation: "sideways" }))).toThrow(/\/linux\/rootfsPropagation/);
  });

  test("pivot_root by default, move + chroot with --no-pivot, after the host's procfs and sysfs are detached", () => {
    const a = planRootfs(input());
    expect(a.filter((r) => r.op === Op.PIVOT_ROOT)).toEqual([{ op: Op.PIVOT_ROOT, strs: [rootfs] }]);
    expect(a.some((r) => r.op === Op.MOVE_ROOT || r.op === Op.DETACH_PSEUDO_FS)).toBe(false);
    const b = planRootfs(input({ noPivot: true }));
    const move = b.findIndex((r) => r.op === Op.MOVE_ROOT);
    expect(b.slice(move - 1, move + 1)).toEqual([{ op: Op.DETACH_PSEUDO_FS, strs: [rootfs, "proc", "sysfs"] }, { op: Op.MOVE_ROOT, strs: [rootfs] }]);
    expect(b.some((r) => r.op === Op.PIVOT_ROOT)).toBe(false);
  });

  test("root.readonly: / is remounted read-only after the pivot and the /dev nodes, not before", () => {
    const recs = planRootfs(input({ readonly: true }));
    const pivot = recs.findIndex((r) => r.op === Op.PIVOT_ROOT);
    const ro = recs.findIndex((r) => r.op === Op.MOUNT && (asMount(r).flags & MS.RDONLY) !== 0);
    expect(ro).toBe(recs.length - 1);
    expect(pivot).toBeLessThan(ro);
    expect(recs.slice(pivot + 1, ro).every((r) => r.op === Op.MKNOD || r.op === Op.SYMLINK)).toBe(true);
    expect(asMount(recs[ro])).toEqual({ flags: MS.BIND | MS.REMOUNT | MS.RDONLY, mkdir: 0, source: "", target: "/", fstype: "", data: "", root: "" });
    expect(planRootfs(input({ readonly: false })).some((r) => r.op === Op.MOUNT && asMount(r).target === "/" && (asMount(r).flags & MS.RDONLY) !== 0)).toBe(false);
  });
});

describe("planRootfs: config mounts", () => {
  test("a filesystem mount: flags and data from options, target under the rootfs, created as a directory (a tmpfs takes the mode of one that was there, kind 4)", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] }] }));
    expect(asMount(recs[2])).toEqual({
      flags: MS.NOSUID | MS.NOEXEC | MS.NODEV, mkdir: 4, source: "shm", target: join(rootfs, "dev/shm"), fstype: "tmpfs", data: "mode=1777,size=65536k", root: rootfs,
    });
    expect(asMount(planRootfs(input({ mounts: [{ destination: "/mq", type: "mqueue", source: "mqueue" }] }))[2]).mkdir).toBe(1);
  });

  test("a mount without a source uses its type as source", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/proc", type: "proc" }] }));
    expect(asMount(recs[2])).toMatchObject({ source: "proc", fstype: "proc", target: join(rootfs, "proc") });
  });

  test("a destination with .. cannot leave the rootfs lexically", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/../../etc", type: "tmpfs", source: "tmpfs" }] }));
    expect(asMount(recs[2]).target).toBe(join(rootfs, "etc"));
  });

  test("a mount of neither a type nor bind is refused", () => {
    expect(() => planRootfs(input({ mounts: [{ destination: "/x", source: "/y" }] }))).toThrow(/\/mounts\/0\/type/);
  });

  test("a bind of a directory: mkdir kind 1, source as given", () => {
    const src = join(bundle, "shared");
    const recs = planRootfs(input({ mounts: [{ destination: "/shared", type: "bind", source: src, options: ["rbind"] }] }));
    expect(asMount(recs[2])).toEqual({ flags: MS.BIND | MS.REC, mkdir: 1, source: src, target: join(rootfs, "shared"), fstype: "", data: "", root: rootfs });
    expect(recs[3].op).not.toBe(Op.MOUNT);
  });

  test("a bind of a file: mkdir kind 2 (an empty file is made as mount point)", () => {
    const src = join(bundle, "resolv.conf");
    const recs = planRootfs(input({ mounts: [{ destination: "/etc/resolv.conf", source: src, options: ["bind"] }] }));
    expect(asMount(recs[2])).toMatchObject({ flags: MS.BIND, mkdir: 2, source: src, target: join(rootfs, "etc/resolv.conf") });
  });

  test("a relative bind source is taken from the bundle", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/etc/resolv.conf", type: "bind", source: "resolv.conf", options: ["bind"] }] }));
    expect(asMount(recs[2]).source).toBe(join(bundle, "resolv.conf"));
  });

  test("a read-only bind is a bind plus a BIND|REMOUNT|RDONLY remount (with the other flags)", () => {
    const src = join(bundle, "shared");
    const recs = planRootfs(input({ mounts: [{ destination: "/shared", type: "bind", source: src, options: ["rbind", "ro", "nosuid", "nodev"] }] }));
    const [bind, remount] = [asMount(recs[2]), asMount(recs[3])];
    expect(bind.flags).toBe(MS.BIND | MS.REC);
    expect(remount).toEqual({ flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV, mkdir: 0, source: "", target: join(rootfs, "shared"), fstype: "", data: "", root: rootfs });
  });

  test("propagation options of a mount come after it, on its target", () => {
    const src = join(bundle, "shared");
    const recs = planRootfs(input({ mounts: [{ destination: "/shared", type: "bind", source: src, options: ["rbind", "ro", "rslave", "unbindable"] }] }));
    const m = mounts(recs).slice(2, 6);
    expect(m.map((x) => x.flags)).toEqual([MS.BIND | MS.REC, MS.BIND | MS.REMOUNT | MS.RDONLY, MS.SLAVE | MS.REC, MS.UNBINDABLE]);
    expect(m.slice(2).every((x) => x.target === join(rootfs, "shared") && x.source === "")).toBe(true);
  });

  test("a missing bind source is a PathError naming it", () => {
    const missing = join(bundle, "nope");
    let err: unknown;
    try {
      planRootfs(input({ mounts: [{ destination: "/x", type: "bind", source: missing, options: ["bind"] }] }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PathError);
    expect((err as PathError).path).toBe(missing);
    expect((err as Error).message).toMatch(/no such file or directory/);
  });

  test("a bind without a source is a ConfigError", () => {
    expect(() => planRootfs(input({ mounts: [{ destination: "/x", type: "bind" }] }))).toThrow(/\/mounts\/0\/source/);
  });

  test("a refused option reports its index within that mount", () => {
    expect(() => planRootfs(input({ mounts: [{ destination: "/proc", type: "proc" }, { destination: "/t", type: "tmpfs", options: ["nosuid", "idmap"] }] }))).toThrow(/\/mounts\/1\/options\/1/);
  });

  test("on /proc only a procfs, under /proc only lxcfs's files (runc's checkProcMount)", () => {
    const refused = (m: { destination: string; type?: string; source?: string; options?: string[] }) => () => planRootfs(input({ mounts: [{ destination: "/proc", type: "proc" }, m] }));
    expect(refused({ destination: "/proc", type: "tmpfs", source: "tmpfs" })).toThrow(/^config.json \/mounts\/1: a tmpfs on \/proc: only a procfs may be mounted there/);
    expect(refused({ destination: "/proc", type: "bind", source: bundle })).toThrow(new RegExp(`^config.json /mounts/1: a bind of ${bundle} on /proc`));
    expect(refused({ destination: "/proc/sys", type: "bind", source: bundle })).toThrow(/^config.json \/mounts\/1: \/proc\/sys is inside \/proc/);
    expect(refused({ destination: "/proc/self/attr", type: "tmpfs" })).toThrow(/^config.json \/mounts\/1: \/proc\/self\/attr is inside \/proc/);
    expect(refused({ destination: "/x/../proc/./sys/kernel", type: "tmpfs" })).toThrow(/\/proc\/sys\/kernel is inside \/proc/);
    // A bind of a procfs on /proc, lxcfs's files, and /procfoo are fine.
    expect(() => planRootfs(input({ mounts: [{ destination: "/proc", type: "bind", source: "/proc" }]}))).not.toThrow();
    expect(() => planRootfs(input({ mounts: [{ destination: "/proc", type: "proc" }, { destination: "/proc/meminfo", type: "bind", source: join(bundle, "resolv.conf") }, { destination: "/procfoo", type: "tmpfs" }] }))).not.toThrow();
  });
});

describe("planRootfs: /dev", () => {
  test("device nodes are MKNOD records of container paths after the pivot, then the /dev symlinks", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"] }] }));
    const nodes = recs.filter((r) => r.op === Op.MKNOD);
    expect(nodes.map((r) => r.strs![0]).sort()).toEqual(["full", "null", "random", "tty", "urandom", "zero"].map((n) => `/dev/${n}`));
    const nul = nodes.find((r) => r.strs![0] === "/dev/null")!;
    expect(nul.ints).toEqual([0o020666, 1, 3, 0, 0]);
    const links = Object.fromEntries(recs.filter((r) => r.op === Op.SYMLINK).map((r) => [r.strs![1], r.strs![0]]));
    expect(links).toEqual({
      "/dev/fd": "/proc/self/fd",
      "/dev/stdin": "/proc/self/fd/0",
      "/dev/stdout": "/proc/self/fd/1",
      "/dev/stderr": "/proc/self/fd/2",
      "/dev/ptmx": "pts/ptmx",
    });
    // The /dev mount comes before the pivot, the nodes after it: mknod and symlink follow path
    // strings, which only after the pivot cannot lead out of the container's root.
    const iDev = recs.findIndex((r) => r.op === Op.MOUNT && r.strs![1] === join(rootfs, "dev"));
    const iNode = recs.findIndex((r) => r.op === Op.MKNOD);
    const iPivot = recs.findIndex((r) => r.op === Op.PIVOT_ROOT);
    expect(iDev).toBeLessThan(iPivot);
    expect(iPivot).toBeLessThan(iNode);
    expect(recs.findIndex((r) => r.op === Op.SYMLINK)).toBeGreaterThan(iPivot);
  });

  test("a config device is a node too", () => {
    const recs = planRootfs(input({ devices: [{ type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o600 }] }));
    expect(recs.find((r) => r.op === Op.MKNOD && r.strs![0] === "/dev/fuse")!.ints).toEqual([0o020600, 10, 229, 0, 0]);
  });

  test("unprivileged (a user namespace, or tsrun rootless), devices are bind mounts of the host's nodes (file mount points)", () => {
    const recs = planRootfs(input({ unprivileged: true }));
    expect(recs.some((r) => r.op === Op.MKNOD)).toBe(false);
    const binds = mounts(recs).filter((m) => m.source.startsWith("/dev/"));
    expect(binds.map((m) => m.source).sort()).toEqual(["/dev/full", "/dev/null", "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"]);
    for (const b of binds) {
      expect(b).toEqual({ flags: MS.BIND, mkdir: 2, source: b.source, target: join(rootfs, b.source), fstype: "", data: "", root: rootfs });
    }
  });

  test("a read-only /dev is mounted writable and remounted read-only after its nodes, links and console", () => {
    const dev = { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "ro"] };
    const consoleRec: PlanRecord = { op: Op.PTY, ints: [0, 0, 0, 1], strs: ["/dev/pts/ptmx", "/dev/ptmx"] };
    const recs = planRootfs(input({ mounts: [dev], console: [consoleRec], readonly: true }));
    expect(mounts(recs).find((m) => m.fstype === "tmpfs")!.flags).toBe(MS.NOSUID | MS.STRICTATIME);
    const remount = recs.findIndex((r) => r.op === Op.MOUNT && asMount(r).target === "/dev");
    expect(asMount(recs[remount])).toEqual({ flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.STRICTATIME, mkdir: 0, source: "", target: "/dev", fstype: "", data: "", root: "/" });
    expect(remount).toBeGreaterThan(recs.indexOf(consoleRec));
    expect(remount).toBeGreaterThan(recs.map((r) => r.op).lastIndexOf(Op.MKNOD));
    expect(remount).toBeGreaterThan(recs.map((r) => r.op).lastIndexOf(Op.SYMLINK));
    expect(asMount(recs[remount + 1]).target).toBe("/"); // then the read-only root
  });

  test("a read-only tmpfs elsewhere is mounted writable, filled (tmpcopyup), then bind-remounted read-only", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "ro", "nodev"] }] }));
    const at = recs.findIndex((r) => r.op === Op.MOUNT && asMount(r).fstype === "tmpfs");
    expect(recs.slice(at - 1, at + 3).map((r) => r.op)).toEqual([Op.COPY_UP, Op.MOUNT, Op.COPY_UP, Op.MOUNT]);
    expect(asMount(recs[at]).flags).toBe(MS.NODEV);
    expect(asMount(recs[at + 2])).toEqual({ flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NODEV, mkdir: 0, source: "", target: join(rootfs, "etc"), fstype: "", data: "", root: rootfs });
    // other filesystems are mounted read-only at once
    expect(mounts(planRootfs(input({ mounts: [{ destination: "/p", type: "proc", source: "proc", options: ["ro"] }] }))).find((m) => m.fstype === "proc")!.flags).toBe(MS.RDONLY);
  });

  test("a bind-mounted /dev gets no nodes and no links", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/dev", type: "bind", source: "/dev", options: ["rbind"] }] }));
    expect(recs.some((r) => r.op === Op.MKNOD || r.op === Op.SYMLINK)).toBe(false);
  });
});

describe("planRootfs: type cgroup", () => {
  const cg = (options: string[]) => ({ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options });
  const target = () => join(rootfs, "sys/fs/cgroup");

  test("unified host with a cgroup namespace: one fresh cgroup2 mount", () => {
    const recs = planRootfs(input({ cgroupns: true, mounts: [cg(["nosuid", "noexec", "nodev", "relatime", "ro"])] }));
    const m = mounts(recs).filter((x) => x.target.startsWith(target()));
    expect(m).toEqual([{ flags: MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY, mkdir: 1, source: "cgroup", target: target(), fstype: "cgroup2", data: "", root: rootfs }]);
  });

  test("unified host without a cgroup namespace: the container's cgroup is bound, then remounted", () => {
    const recs = planRootfs(input({ cgroupns: false, mounts: [cg(["nosuid", "noexec", "nodev", "ro"])] }));
    const m = mounts(recs).filter((x) => x.target.startsWith(target()));
    expect(m).toEqual([
      { flags: MS.BIND | MS.REC, mkdir: 1, source: "/sys/fs/cgroup/tsrun/c1", target: target(), fstype: "", data: "", root: rootfs },
      { flags: MS.BIND | MS.REMOUNT | MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY, mkdir: 0, source: "", target: target(), fstype: "", data: "", root: rootfs },
    ]);
  });

  test("hybrid host with a cgroup namespace: a tmpfs, then one cgroup mount per hierarchy with its controllers as data", () => {
    const recs = planRootfs(input({ cgroupns: true, cgroupMounts: cgroupMountsOf("/tsrun/c1", HYBRID), mounts: [cg(["nosuid", "noexec", "nodev"])] }));
    const f = MS.NOSUID | MS.NOEXEC | MS.NODEV;
    const m = mounts(recs).filter((x) => x.target.startsWith(target()));
    expect(m).toEqual([
      { flags: f, mkdir: 1, source: "tmpfs", target: target(), fstype: "tmpfs", data: "mode=755", root: rootfs },
      { flags: f, mkdir: 1, source: "cgroup", target: join(target(), "cpu,cpuacct"), fstype: "cgroup", data: "cpu,cpuacct", root: rootfs },
      { flags: f, mkdir: 1, source: "cgroup", target: join(target(), "memory"), fstype: "cgroup", data: "memory", root: rootfs },
      { flags: f, mkdir: 1, source: "cgroup", target: join(target(), "systemd"), fstype: "cgroup", data: "name=systemd", root: rootfs },
      { flags: f, mkdir: 1, source: "cgroup", target: join(target(), "unified"), fstype: "cgroup2", data: "", root: rootfs },
    ]);
    // comounted controllers are reachable by each name, as on the host
    const links = recs.filter((r) => r.op === Op.SYMLINK && r.strs![1].startsWith(target())).map((r) => [r.strs![0], r.strs![1]]);
    expect(links).toEqual([
      ["cpu,cpuacct", join(target(), "cpu")],
      ["cpu,cpuacct", join(target(), "cpuacct")],
    ]);
  });

  test("hybrid host without a cgroup namespace: each hierarchy's container cgroup is bound", () => {
    const recs = planRootfs(input({ cgroupns: false, cgroupMounts: cgroupMountsOf("/tsrun/c1", HYBRID), mounts: [cg(["nosuid", "noexec", "nodev", "ro"])] }));
    const m = mounts(recs).filter((x) => x.target.startsWith(target()));
    const binds = m.filter((x) => x.flags === (MS.BIND | MS.REC));
    expect(binds.map((b) => [b.source, b.target])).toEqual([
      ["/sys/fs/cgroup/cpu,cpuacct/tsrun/c1", join(target(), "cpu,cpuacct")],
      ["/sys/fs/cgroup/memory/tsrun/c1", join(target(), "memory")],
      ["/sys/fs/cgroup/systemd/tsrun/c1", join(target(), "systemd")],
      ["/sys/fs/cgroup/unified/tsrun/c1", join(target(), "unified")],
    ]);
    expect(m[0]).toMatchObject({ fstype: "tmpfs", target: target() });
    // every bind is made read-only, and the tmpfs too, last
    for (const b of binds) {
      expect(m.some((x) => x.target === b.target && (x.flags & (MS.BIND | MS.REMOUNT | MS.RDONLY)) === (MS.BIND | MS.REMOUNT | MS.RDONLY))).toBe(true);
    }
    const last = m[m.length - 1];
    expect(last.target).toBe(target());
    expect(last.flags & (MS.REMOUNT | MS.RDONLY)).toBe(MS.REMOUNT | MS.RDONLY);
  });
});

describe("planMaskedAndReadonly", () => {
  test("a read-only path: bound onto itself and remounted read-only, only if it exists, inside the root", () => {
    expect(planMaskedAndReadonly([], ["/proc/sys"]).map(asMount)).toEqual([
      { flags: MS.BIND | MS.REC, mkdir: 3, source: "/proc/sys", target: "/proc/sys", fstype: "", data: "", root: "/" },
      { flags: MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, mkdir: 3, source: "", target: "/proc/sys", fstype: "", data: "", root: "/" },
    ]);
  });

  test("a masked path: one MASK record with both ways to hide it (tmpfs for a directory, the null device otherwise)", () => {
    expect(planMaskedAndReadonly(["/proc/kcore", "/data"])).toEqual([
      { op: Op.MASK, ints: [MS.RDONLY, 0], strs: ["/proc/kcore", "/", "tmpfs", "tmpfs", "", "/dev/null"] },
      { op: Op.MASK, ints: [MS.RDONLY, 0], strs: ["/data", "/", "tmpfs", "tmpfs", "", "/dev/null"] },
    ]);
  });

  test("nothing asked, nothing done", () => {
    expect(planMaskedAndReadonly()).toEqual([]);
  });
});

describe("planRootfs: recursive attributes, tmpcopyup, unknown options, sysfs, mountLabel", () => {
  const setattrs = (recs: PlanRecord[]): PlanRecord[] => recs.filter((r) => r.op === Op.MOUNT_SETATTR);

  test("rro on a bind: the bind, then one recursive MOUNT_SETATTR on the target inside the rootfs", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/data", type: "bind", source: join(bundle, "shared"), options: ["rbind", "rro", "rnosuid"] }] }));
    const target = join(rootfs, "data");
    const iBind = recs.findIndex((r) => r.op === Op.MOUNT && asMount(r).target === target);
    const iAttr = recs.findIndex((r) => r.op === Op.MOUNT_SETATTR);
    expect(iBind).toBeGreaterThan(0);
    expect(iAttr).toBe(iBind + 1);
    expect(recs[iAttr]).toEqual({ op: Op.MOUNT_SETATTR, ints: [MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, 0, 0, 1], strs: [target, rootfs] });
  });

  test("no r- option, no MOUNT_SETATTR", () => {
    expect(setattrs(planRootfs(input({ mounts: [{ destination: "/t", type: "tmpfs", options: ["ro", "nosuid"] }] })))).toEqual([]);
  });

  test("r- options on a filesystem mount and on a cgroup mount", () => {
    const recs = planRootfs(input({ mounts: [
      { destination: "/t", type: "tmpfs", options: ["rnoexec"] },
      { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["rro"] },
    ] }));
    expect(setattrs(recs).map((r) => [r.ints![0], r.strs![0]])).toEqual([
      [MOUNT_ATTR.NOEXEC, join(rootfs, "t")],
      [MOUNT_ATTR.RDONLY, join(rootfs, "sys/fs/cgroup")],
    ]);
  });

  test("tmpcopyup: the directory is opened before the tmpfs mount and copied after it", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "mode=755"] }] }));
    const target = join(rootfs, "etc");
    const i = recs.findIndex((r) => r.op === Op.MOUNT && asMount(r).target === target);
    expect(recs[i - 1]).toEqual({ op: Op.COPY_UP, ints: [0], strs: [target, rootfs] });
    expect(recs[i + 1]).toEqual({ op: Op.COPY_UP, ints: [1], strs: [target, rootfs] });
    expect(asMount(recs[i]).data).toBe("mode=755");
  });

  test("tmpcopyup on anything but tmpfs is a ConfigError at its index", () => {
    expect(() => planRootfs(input({ mounts: [{ destination: "/d", type: "bind", source: join(bundle, "shared"), options: ["rbind", "tmpcopyup"] }] }))).toThrow(/\/mounts\/0\/options\/1.*tmpfs/);
    expect(() => planRootfs(input({ mounts: [{ destination: "/d", type: "proc", options: ["tmpcopyup"] }] }))).toThrow(/\/mounts\/0\/options\/0/);
  });

  test("an unknown option is a ConfigError naming it, with the mount's index", () => {
    const err = (() => {
      try {
        planRootfs(input({ mounts: [{ destination: "/proc", type: "proc" }, { destination: "/t", type: "tmpfs", options: ["nosuid", "sise=1k"] }] }));
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.field).toBe("/mounts/1/options/1");
    expect(err!.message).toContain('"sise=1k"');
  });

  test("data on a bind mount is accepted and dropped, as runc does (the kernel ignores it)", () => {
    const recs = planRootfs(input({ mounts: [{ destination: "/d", source: join(bundle, "shared"), options: ["bind", "mode=755", "ro"] }] }));
    const d = mounts(recs).filter((m) => m.target === join(rootfs, "d"));
    expect(d.map((m) => [m.flags, m.data])).toEqual([[MS.BIND, ""], [MS.BIND | MS.REMOUNT | MS.RDONLY, ""]]);
  });

  test("sysfs is read-only without a network namespace of its own, as given with one", () => {
    const sys = { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev"] };
    const flags = (netns: boolean) => mounts(planRootfs(input({ netns, mounts: [sys] }))).find((m) => m.fstype === "sysfs")!.flags;
    expect(flags(false)).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY);
    expect(flags(true)).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV);
  });

  test("mountLabel is a context= of tmpfs, devpts and mqueue mounts only", () => {
    const recs = planRootfs(input({ mountLabel: "system_u:object_r:container_file_t:s0:c1,c2", mounts: [
      { destination: "/t", type: "tmpfs", options: ["mode=755"] },
      { destination: "/dev/pts", type: "devpts" },
      { destination: "/proc", type: "proc" },
    ] }));
    const data = Object.fromEntries(mounts(recs).filter((m) => m.fstype).map((m) => [m.fstype, m.data]));
    expect(data).toEqual({ tmpfs: 'mode=755,context="system_u:object_r:container_file_t:s0:c1,c2"', devpts: 'context="system_u:object_r:container_file_t:s0:c1,c2"', proc: "" });
  });
});

