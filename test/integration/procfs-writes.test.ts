// Every write tsrun-init makes under /proc goes through a procfs handle opened in stage 0, before the
// container has a mount or a namespace is joined (issue 18, the class of CVE-2025-52881): a container
// image whose /proc entries are symlinks to a host directory, config mounts of something else on /proc,
// or a hostile /proc in the init's mount namespace cannot send a write elsewhere. For each kind of write
// (sysctl, oom_score_adj, timens_offsets, LSM labels, keycreate, and the id maps of a user namespace)
// the host file a hostile entry points to stays untouched.
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { InitError } from "../../src/errors.js";
import { launchInit } from "../../src/init/launch.js";
import { encodePlan } from "../../src/launch/encode.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import { Runc } from "../helpers/runc.js";
import { ROOTFS, Scratch, TOP, TSRUN, ensureBuilt } from "../helpers/tsrun.js";
import { type TestUser, makeTestUser, rootlessBundle } from "../helpers/users.js";

const s = new Scratch();
const rc = new Runc(s.dir);
const HOST = join(s.dir, "host"); // what the hostile entries point to: must stay as it is
const HOSTILE = join(s.dir, "hostile-rootfs");
/** Files under HOST, as the hostile /proc/self and /proc/sys lead to them. */
const TARGETS = ["sys/kernel/shmmax", "sys/net/ipv4/ip_forward", "self/oom_score_adj", "self/timens_offsets", "self/uid_map", "self/gid_map", "self/setgroups", "self/attr/exec", "self/attr/keycreate", "self/attr/apparmor/exec"];
const APPARMOR = (() => {
  try {
    return readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").startsWith("Y");
  } catch {
    return false;
  }
})();
if (!APPARMOR) console.warn("procfs-writes: AppArmor is off on this host: an apparmorProfile cannot be asked of tsrun; its write is checked through a hand-made plan of tsrun-init only");

let alice: TestUser | undefined;

/** Make `rootfs`'s /proc hostile: symlinks into /mnt/host (where the config binds HOST): /proc/sys, and every
 *  file of /proc/self tsrun writes. /proc/self/fd leads to the real one: the init reopens its exec fifo there
 *  (see spec-notes: that open is not through the handle). */
function makeProcHostile(rootfs: string): void {
  rmSync(join(rootfs, "proc"), { recursive: true, force: true });
  mkdirSync(join(rootfs, "proc/self"), { recursive: true });
  symlinkSync("/mnt/host/sys", join(rootfs, "proc/sys"));
  symlinkSync("self", join(rootfs, "proc/thread-self"));
  for (const f of ["oom_score_adj", "timens_offsets", "uid_map", "gid_map", "setgroups", "attr"]) symlinkSync(`/mnt/host/self/${f}`, join(rootfs, "proc/self", f));
  symlinkSync("/run/realproc/self/fd", join(rootfs, "proc/self/fd"));
}

beforeAll(() => {
  ensureBuilt();
  rc.require();
  // A user namespace's root (host uid 100000) walks through these.
  chmodSync(s.dir, 0o711);
  mkdirSync(HOST, { mode: 0o755 });
  for (const t of TARGETS) {
    mkdirSync(dirname(join(HOST, t)), { recursive: true, mode: 0o755 });
    writeFileSync(join(HOST, t), "HOST\n", { mode: 0o666 });
  }
  // The image: busybox with a hostile /proc.
  cpSync(ROOTFS, HOSTILE, { recursive: true, verbatimSymlinks: true });
  makeProcHostile(HOSTILE);
});
afterAll(() => {
  rc.cleanup();
  const left = alice?.remove() ?? [];
  expect(s.cleanup()).toEqual([]);
  expect(left).toEqual([]);
}, 60_000);

/** Every host file the hostile entries lead to still says HOST. */
function hostUntouched(): void {
  expect(Object.fromEntries(TARGETS.map((t) => [t, readFileSync(join(HOST, t), "utf8")]))).toEqual(Object.fromEntries(TARGETS.map((t) => [t, "HOST\n"])));
}

/** The hostile image with HOST bound on /mnt/host, no proc mount on /proc (the image's stays), and the
 *  kernel's procfs on /run/realproc for the process to look at. */
function hostileBundle(edit: (c: any) => void): string {
  return s.bundle((c) => {
    c.root = { path: HOSTILE, readonly: false };
    c.mounts = c.mounts.filter((m: any) => m.destination !== "/proc");
    c.mounts.push({ destination: "/mnt/host", type: "bind", source: HOST, options: ["rbind", "rw"] });
    c.mounts.push({ destination: "/run/realproc", type: "proc", source: "proc" });
    c.linux.maskedPaths = [];
    c.linux.readonlyPaths = [];
    edit(c);
  });
}

/** `tsrun run` of `script` in the hostile image; its stdout (stderr must be empty, the exit 0). */
function runHostile(script: string, edit: (c: any) => void): string {
  const r = s.tsrun(["run", "--bundle", hostileBundle((c) => {
    c.process.args = ["sh", "-c", script];
    edit(c);
  }), s.id("hostile")]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

describe("a hostile image: /proc/self and /proc/sys are symlinks into a host directory", () => {
  test("the control: the image really leads there (/proc/self/oom_score_adj in the container is the host file)", () => {
    // The control: what an unguarded write in the container's /proc would do.
    const out = runHostile("readlink /proc/sys; readlink /proc/self/oom_score_adj; cat /proc/self/oom_score_adj", () => {});
    expect(out).toBe("/mnt/host/sys\n/mnt/host/self/oom_score_adj\nHOST\n");
  });

  test("sysctl: written in the container's namespace, the host file untouched", () => {
    expect(runHostile("cat /run/realproc/sys/kernel/shmmax", (c) => (c.linux.sysctl = { "kernel.shmmax": "12345678" }))).toBe("12345678\n");
    hostUntouched();
  });

  test("oomScoreAdj: the process's own, the host file untouched", () => {
    expect(runHostile("cat /run/realproc/self/oom_score_adj", (c) => (c.process.oomScoreAdj = 345))).toBe("345\n");
    hostUntouched();
  });

  test("timeOffsets: the time namespace's, the host file untouched", () => {
    const out = runHostile("cat /run/realproc/self/timens_offsets", (c) => {
      c.linux.namespaces.push({ type: "time" });
      c.linux.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 } };
    });
    expect(out).toMatch(/^monotonic\s+86400\s+0$/m);
    hostUntouched();
  });

  test("a user namespace: uid/gid maps and setgroups are the real ones, the host files untouched", () => {
    const out = runHostile("cat /run/realproc/self/uid_map /run/realproc/self/gid_map /run/realproc/self/oom_score_adj", (c) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.process.oomScoreAdj = 300;
      c.mounts = c.mounts.filter((m: any) => !["/sys", "/sys/fs/cgroup"].includes(m.destination));
    });
    expect(out.split("\n").map((l) => l.trim().split(/\s+/).join(" "))).toEqual(["0 100000 65536", "0 100000 65536", "300", ""]);
    hostUntouched();
  });

  test("exec: an oomScoreAdj of the exec'd process is its own, the host file untouched", () => {
    const id = s.id("hostile-exec");
    const r = s.tsrun(["run", "--detach", "--bundle", hostileBundle((c) => (c.process.args = ["sleep", "60"])), id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const file = join(s.dir, "exec-process.json");
    writeFileSync(file, JSON.stringify({ args: ["cat", "/run/realproc/self/oom_score_adj"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 }, oomScoreAdj: 200 }));
    const e = s.tsrun(["exec", "--process", file, id]);
    expect(e.stderr).toBe("");
    expect(e.stdout).toBe("200\n");
    hostUntouched();
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });

  test("rootless (an ordinary user): oomScoreAdj and timeOffsets are the process's own, the host files untouched", () => {
    alice = makeTestUser();
    const dir = rootlessBundle(alice, join(alice.home, "hostile"), ["sh", "-c", "cat /run/realproc/self/oom_score_adj /run/realproc/self/timens_offsets /run/realproc/self/uid_map"], (c) => {
      c.mounts = c.mounts.filter((m: any) => m.destination !== "/proc");
      c.mounts.push({ destination: "/mnt/host", type: "bind", source: HOST, options: ["rbind", "rw"] });
      c.mounts.push({ destination: "/run/realproc", type: "proc", source: "proc" });
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
      c.linux.namespaces.push({ type: "time" });
      c.linux.timeOffsets = { monotonic: { secs: 86400 } };
      c.process.oomScoreAdj = 500;
    });
    makeProcHostile(join(dir, "rootfs"));
    alice.chown(dir);
    const r = alice.run(TSRUN, ["run", "--bundle", dir, "procfs-rootless"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    expect(lines).toEqual(["500", "monotonic 86400 0", "boottime 0 0", `0 ${alice.uid} 1`]);
    hostUntouched();
  });

  // Where AppArmor is off, tsrun refuses a profile before anything runs (the write itself is checked
  // through a hand-made plan below); where it is on, the profile is written through the handle.
  test(`apparmorProfile: ${APPARMOR ? "written" : "refused (AppArmor is off)"}, the host file untouched`, () => {
    const edit = (c: any) => (c.process.apparmorProfile = "unconfined");
    if (APPARMOR) runHostile("true", edit);
    else {
      const id = s.id("hostile-aa");
      const r = s.tsrun(["run", "--bundle", hostileBundle((c) => { c.process.args = ["true"]; edit(c); }), id]);
      expect(r.status).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/\/process\/apparmorProfile/);
      expect(s.tsrun(["state", id]).status).not.toBe(0);
    }
    hostUntouched();
  });
});

describe("the exec fifo's reopen by /proc/self/fd/N (WAIT_FIFO: the container's /proc, not the handle)", () => {
  test("an image whose /proc/self/fd leads to a host directory fails create in one line; nothing is written there", () => {
    const rootfs = join(s.dir, "hostile-fd-rootfs");
    cpSync(HOSTILE, rootfs, { recursive: true, verbatimSymlinks: true });
    rmSync(join(rootfs, "proc/self/fd"));
    symlinkSync("/mnt/host/fd", join(rootfs, "proc/self/fd"));
    // Every fd number the exec fifo could get leads to one host file.
    mkdirSync(join(HOST, "fd"));
    writeFileSync(join(HOST, "victim"), "HOST\n", { mode: 0o666 });
    for (let n = 0; n < 64; n++) symlinkSync("/mnt/host/victim", join(HOST, "fd", String(n)));
    const id = s.id("hostile-fd");
    const r = s.tsrun(["create", "--bundle", hostileBundle((c) => (c.root.path = rootfs)), id]);
    expect(r.stderr).toMatch(/^tsrun: exec fifo: \/proc\/self\/fd\/\d+ in the container does not lead to it \(is \/proc a procfs\?\)\n$/);
    expect(r.status).toBe(1);
    expect(s.tsrun(["state", id]).stderr).toContain("does not exist");
    expect(readFileSync(join(HOST, "victim"), "utf8")).toBe("HOST\n");
    hostUntouched();
  });
});

describe("config mounts of something else on or in /proc are refused before anything runs (runc 1.1.5 refuses them too)", () => {
  test.each([
    ["a tmpfs on /proc", { destination: "/proc", type: "tmpfs", source: "tmpfs" }, /a tmpfs on \/proc: only a procfs may be mounted there/],
    ["a bind of a host directory on /proc", { destination: "/proc", type: "bind", source: HOST, options: ["rbind"] }, /a bind of .* on \/proc: only a procfs/],
    ["a bind on /proc/sys", { destination: "/proc/sys", type: "bind", source: join(HOST, "sys"), options: ["rbind"] }, /\/proc\/sys is inside \/proc/],
    ["a bind on /proc/self/attr", { destination: "/proc/self/attr", type: "bind", source: join(HOST, "self/attr"), options: ["rbind"] }, /\/proc\/self\/attr is inside \/proc/],
  ])("%s, with sysctl, oomScoreAdj and timeOffsets asked", (_what, mount, why) => {
    const id = s.id("procmount");
    const config = (time: boolean) => (c: any) => {
      c.mounts = mount.destination === "/proc" ? c.mounts.filter((m: any) => m.destination !== "/proc") : c.mounts;
      c.mounts.push(mount);
      c.linux.sysctl = { "kernel.shmmax": "1" };
      c.process.oomScoreAdj = 100;
      if (!time) return; // runc 1.1.5 knows no time namespace
      c.linux.namespaces.push({ type: "time" });
      c.linux.timeOffsets = { monotonic: { secs: 1 } };
    };
    const runc = rc.run(["create", "--bundle", s.bundle(config(false)), id], { toFiles: true });
    expect(runc.status).not.toBe(0);
    // Its checkProcMount for binds; a tmpfs passes that check and fails later, at the sysctl it writes into
    // that tmpfs (ENOENT here: a file the image put there would have received it).
    expect(runc.stderr).toMatch(mount.type === "tmpfs" ? /open \/proc\/sys\/kernel\/shmmax: no such file or directory/ : /cannot be mounted because it is (not of type proc|inside \/proc)/);
    expect(rc.run(["state", id]).status).not.toBe(0);
    hostUntouched();
    const b = s.bundle(config(true));
    const r = s.tsrun(["create", "--bundle", b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^tsrun: config.json \/mounts\/\d+: /);
    expect(r.stderr).toMatch(why);
    expect(s.tsrun(["state", id]).stderr).toContain("does not exist");
    hostUntouched();
  });
});

/**
 * tsrun-init on a hand-made plan: the child makes its /proc hostile (a tmpfs with "self" a symlink into
 * HOST, in a mount namespace of its own), then writes. What a joined mount namespace or a hostile image
 * could put there before an LSM label or keycreate write (both need an LSM tsrun asks for only where one
 * is on); the handle was opened before, in stage 0.
 */
async function hostileProcPlan(write: PlanRecord): Promise<{ status: number; error?: string }> {
  const plan: PlanRecord[] = [
    { op: Op.PROCFS_OPEN },
    { op: Op.CLONE, ints: [0x20000 /* CLONE_NEWNS */, 1], strs: [""] },
    { op: Op.MOUNT, ints: [(1 << 14) | (1 << 18) /* MS_REC|MS_PRIVATE */, 0], strs: ["", "/", "", "", ""] },
    { op: Op.MOUNT, ints: [0, 0], strs: ["tmpfs", "/proc", "tmpfs", "", ""] },
    { op: Op.SYMLINK, ints: [0], strs: [join(HOST, "self"), "/proc/self", ""] },
    write,
    { op: Op.PROCFS_CLOSE },
    { op: Op.FIND_EXEC, strs: ["/bin:/usr/bin", "true"] },
    { op: Op.READY },
    { op: Op.EXEC, ints: [1], strs: ["true"] },
  ];
  try {
    const l = await launchInit({ initPath: join(TOP, "bin/tsrun-init"), plan: encodePlan(plan), foreground: true });
    return { status: await l.exited };
  } catch (e) {
    if (!(e instanceof InitError)) throw e;
    return { status: -1, error: e.message };
  }
}

describe("LSM label and keycreate writes, with a hostile /proc in the init's mount namespace (tsrun-init)", () => {
  afterEach(() => {
    for (const t of TARGETS) writeFileSync(join(HOST, t), "HOST\n");
  });

  test("the control: a plain open of /proc/self/attr/exec there writes the host file", async () => {
    const r = await hostileProcPlan({ op: Op.WRITE_FILE, strs: ["/proc/self/attr/exec", "label"] });
    expect(r).toEqual({ status: 0 });
    expect(readFileSync(join(HOST, "self/attr/exec"), "utf8")).toBe("label");
  });

  test.each([
    ["self/attr/exec", "/process/selinuxLabel"],
    ["self/attr/keycreate", "/process/selinuxLabel"],
    ["self/attr/apparmor/exec", "/process/apparmorProfile"],
  ])("%s goes to the kernel's file (%s), the host file untouched", async (path, field) => {
    const r = await hostileProcPlan({ op: Op.PROCFS_WRITE, strs: [path, "exec x", field, ""] });
    // With no LSM that takes the label the kernel refuses it: one line naming the field and the real file.
    // (With one, the write succeeds where it belongs.)
    if (r.status !== 0) expect(r.error).toMatch(new RegExp(`^${field}: (write exec x to|open) /proc/${path}: [A-Za-z ]+$`));
    hostUntouched();
  });
});
