// Issue 16, mounts and devices where tsrun is not host root in the initial user namespace. First as root,
// with a user namespace mapping host ids 100000-165535 (its root is not host root: mknod is refused and the
// flags of mounts copied from the host are locked, as for a rootless caller); then as an ordinary user made
// by the test, and as root of that user's own user namespace (what rootless podman runs the runtime as).
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOTFS, Scratch, TSRUN, ensureBuilt } from "../helpers/tsrun.js";
import { type TestUser, makeTestUser } from "../helpers/users.js";

const s = new Scratch();
beforeAll(() => {
  ensureBuilt();
  chmodSync(s.dir, 0o755); // the container's root (host uid 100000) reaches bind sources under it
});
afterAll(() => expect(s.cleanup()).toEqual([]));

const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

/** The busybox config in a user namespace of its own that does not map host root. */
function inUserNs(c: any): void {
  c.linux.namespaces.push({ type: "user" });
  c.linux.uidMappings = MAP;
  c.linux.gidMappings = MAP;
}
const withoutNs = (c: any, type: string) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== type));

function run(script: string, edit: (c: any) => void) {
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    edit(c);
  });
  return s.tsrun(["run", "--bundle", b, s.id("rm")]);
}

function inside(script: string, edit: (c: any) => void): string {
  const r = run(script, edit);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** A tmpfs of the test's own mounted with `options` (its flags are locked in a user namespace). */
function lockedTmpfs(name: string, options: string, under = s.dir): string {
  const dir = mkdtempSync(join(under, `${name}-`));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", `${options},mode=755`, "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
  return dir;
}
const umount = (dir: string) => spawnSync("umount", ["-l", dir]);

const mountOpts = (out: string, at: string) => out.split("\n").find((l) => l.startsWith(`${at} `))?.split(" ")[1].split(",");

describe("as root, in a user namespace that does not map host root", () => {
  test("proc without a pid namespace of the container's own: one line naming the mount, nothing made", () => {
    const r = run("true", (c) => {
      inUserNs(c);
      withoutNs(c, "pid");
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsrun: config\.json \/mounts\/0: proc at \/proc needs the container's own pid namespace: .*add \{"type": "pid"\} to \/linux\/namespaces, or drop the mount\)\n$/);
    expect(existsSync(s.root) ? readdirSync(s.root) : []).toEqual([]);
  });

  test("mqueue without an ipc namespace of its own: refused the same way", () => {
    const r = run("true", (c) => {
      inUserNs(c);
      withoutNs(c, "ipc");
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsrun: config\.json \/mounts\/4: mqueue at \/dev\/mqueue needs the container's own ipc namespace/);
  });

  test("sysfs without a network namespace of its own: the host's /sys bound recursively, read-only throughout (runc 1.1.5: EPERM)", () => {
    const script = "ls /sys/class/net | tr '\\n' ' '; echo; awk '$5 ~ \"^/sys\" {print $5, $6}' /proc/self/mountinfo";
    const out = inside(script, (c) => {
      inUserNs(c);
      withoutNs(c, "network");
      c.mounts = c.mounts.map((m: any) => (m.type === "sysfs" ? { ...m, options: ["nosuid", "noexec", "nodev", "rw"] } : m));
    });
    const [nets, ...lines] = out.trim().split("\n");
    expect(nets.trim()).toBe(readdirSync("/sys/class/net").sort().join(" "));
    // the host's submounts of /sys came along (the container's own cgroup mounts are over them), every one
    // of them read-only; /sys/firmware is a masked path (an empty tmpfs)
    const hostSubmounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((p) => p?.startsWith("/sys/"));
    const mounts = lines.filter((l) => !l.startsWith("/sys/firmware "));
    expect(hostSubmounts.length).toBeGreaterThan(0);
    for (const p of hostSubmounts) expect(mounts.filter((l) => l.startsWith(`${p} `)).length).toBeGreaterThanOrEqual(1);
    for (const l of mounts) expect(l.split(" ")[1].split(",")).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev", "noexec"]));
  });

  test("sysfs with a network namespace of its own: a fresh sysfs, as the config asks", () => {
    const out = inside("ls /sys/class/net; awk '$5 == \"/sys\" {print $6}' /proc/self/mountinfo", (c) => {
      inUserNs(c);
      c.mounts = c.mounts.map((m: any) => (m.type === "sysfs" ? { ...m, options: ["nosuid", "noexec", "nodev", "rw"] } : m));
    });
    expect(out).toBe("lo\nrw,nosuid,nodev,noexec,relatime\n");
  });

  test("a read-only root on a nosuid,nodev filesystem: the locked flags are kept, the root is read-only", () => {
    const fs = lockedTmpfs("rootfs", "nosuid,nodev");
    try {
      cpSync(ROOTFS, join(fs, "rootfs"), { recursive: true, verbatimSymlinks: true });
      const out = inside("awk '$5 == \"/\" {print \"/\", $6}' /proc/self/mountinfo; touch /x 2>/dev/null || echo read-only", (c) => {
        inUserNs(c);
        c.root = { path: join(fs, "rootfs"), readonly: true };
      });
      expect(mountOpts(out, "/")).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev"]));
      expect(out).toContain("read-only\n");
    } finally {
      umount(fs);
    }
  });

  test("a bind asking some flags of a nodev,noexec,noatime source: those set, the source's kept (atime included)", () => {
    const src = lockedTmpfs("src", "nodev,noexec,noatime");
    try {
      writeFileSync(join(src, "f"), "from the host\n");
      const out = inside("cat /mnt/f; awk '$5 == \"/mnt\" {print $5, $6}' /proc/self/mountinfo", (c) => {
        inUserNs(c);
        c.mounts.push({ destination: "/mnt", type: "bind", source: src, options: ["rbind", "nosuid", "ro", "noatime"] });
      });
      expect(out.split("\n")[0]).toBe("from the host");
      expect(mountOpts(out, "/mnt")!.sort()).toEqual(["nodev", "noexec", "noatime", "nosuid", "ro"].sort());
    } finally {
      umount(src);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// As an ordinary user (the test makes and removes it).

describe("as an ordinary user", () => {
  let u: TestUser;
  let home: string;
  /** A host mount the user's own user namespace copies, flags locked: nosuid,nodev,noexec. */
  let locked: string;
  beforeAll(() => {
    u = makeTestUser({ subids: true });
    home = join(u.home, "rm");
    mkdirSync(home);
    cpSync(ROOTFS, join(home, "rootfs"), { recursive: true, verbatimSymlinks: true });
    locked = lockedTmpfs("locked", "nosuid,nodev,noexec", home);
    writeFileSync(join(locked, "f"), "locked\n");
    u.chown(home);
  });
  afterAll(() => {
    const tsrunAs = (args: string[]) => u.run(TSRUN, args);
    const ids = tsrunAs(["list", "-q"]).stdout.trim();
    for (const id of ids ? ids.split("\n") : []) tsrunAs(["delete", "--force", id]);
    umount(locked);
    expect(u.remove()).toEqual([]);
  });

  /** A bundle of the user's, from `tsrun spec --rootless` (written by the user), edited. */
  let n = 0;
  function bundle(edit: (c: any) => void): string {
    const dir = join(home, `b${n++}`);
    mkdirSync(dir);
    u.chown(dir);
    const r = u.run(TSRUN, ["spec", "--rootless", "--bundle", dir]);
    expect(r.stderr).toBe("");
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    c.root.path = join(home, "rootfs");
    c.process.terminal = false;
    edit(c);
    writeFileSync(join(dir, "config.json"), JSON.stringify(c, null, 2));
    u.chown(dir);
    return dir;
  }
  const runAs = (dir: string, id: string, file = TSRUN, pre: string[] = []) => u.run(file, [...pre, "run", "--bundle", dir, id]);

  test("tsrun spec --rootless with a sysfs mount: runs; /sys is the host's (bound), devices are the host's nodes", () => {
    const dir = bundle((c) => {
      c.mounts = c.mounts.map((m: any) => (m.destination === "/sys" ? { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] } : m));
      c.process.args = ["sh", "-c", "id -u; ls /sys/class/net | tr '\\n' ' '; echo; stat -c '%t:%T' /dev/null; echo x > /dev/null && echo null-works; grep -c ' /dev/null ' /proc/self/mountinfo"];
    });
    const r = runAs(dir, "sys");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`0\n${readdirSync("/sys/class/net").sort().join(" ")} \n1:3\nnull-works\n1\n`);
    expect(r.status).toBe(0);
  });

  test("tsrun.layers: the upper is made in the user's state dir, by the user; a write lands there; delete removes it", () => {
    const dir = bundle((c) => {
      mkdirSync(join(home, "empty-root"), { recursive: true });
      u.chown(join(home, "empty-root"));
      c.root = { path: join(home, "empty-root"), readonly: false };
      c.tsrun = { layers: [join(home, "rootfs")] };
      c.process.args = ["sh", "-c", "echo new > /etc/made-here && rm /bin/ls && awk '$5 == \"/\" {print $NF}' /proc/self/mountinfo | tr , '\\n' | grep userxattr > /etc/xattrs"];
    });
    const state = join(u.runtimeDir, "tsrun", "layers");
    const created = u.run(TSRUN, ["create", "--bundle", dir, "layers"]);
    expect(created.stderr).toBe("");
    expect(created.status).toBe(0);
    const upper = join(state, "upper");
    expect(statSync(upper).uid).toBe(u.uid);
    const started = u.run(TSRUN, ["start", "layers"]);
    expect(started.status).toBe(0);
    for (let i = 0; i < 100 && !/stopped/.test(u.run(TSRUN, ["state", "layers"]).stdout); i++) spawnSync("sleep", ["0.05"]);
    expect(readFileSync(join(upper, "etc/made-here"), "utf8")).toBe("new\n");
    expect(readFileSync(join(upper, "etc/xattrs"), "utf8")).toBe("userxattr\n");
    expect(statSync(join(upper, "bin/ls")).isCharacterDevice()).toBe(true); // a whiteout
    expect(existsSync(join(home, "rootfs/bin/ls"))).toBe(true); // the layer is untouched
    expect(u.run(TSRUN, ["delete", "layers"])).toMatchObject({ status: 0, stderr: "" });
    expect(existsSync(state)).toBe(false);
  });

  test("tsrun.layers with a map of subordinate ids only: refused naming the owner it would not map, nothing left", () => {
    const dir = bundle((c) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: u.subids!.start, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: u.subids!.start, size: 65536 }];
      c.tsrun = { layers: [join(home, "rootfs")] };
    });
    const r = runAs(dir, "sub");
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `tsrun: config.json /tsrun/layers: the overlay is mounted in the new user namespace, which must map the owner of its upper and work dirs: ${join(u.runtimeDir, "tsrun/sub/upper")} will be made by tsrun's caller, uid ${u.uid} gid ${u.gid}, and host uid ${u.uid} is not mapped in /linux/uidMappings\n`,
    );
    expect(existsSync(join(u.runtimeDir, "tsrun/sub"))).toBe(false);
  });

  test("as root of the user's own user namespace (rootless podman's runtime), a config without one: devices bound, locked flags kept", () => {
    const dir = bundle((c) => {
      withoutNs(c, "user");
      delete c.linux.uidMappings;
      delete c.linux.gidMappings;
      // a bind of a mount of the host's: copied into the user's namespace, its flags are locked there
      c.mounts.push({ destination: "/mnt", type: "bind", source: locked, options: ["rbind", "ro", "nosuid"] });
      c.process.args = ["sh", "-c", "stat -c '%t:%T' /dev/null; grep -c ' /dev/null ' /proc/self/mountinfo; awk '$5 == \"/mnt\" {print $6}' /proc/self/mountinfo; cat /mnt/f"];
    });
    const root = join(home, "nsroot");
    // as podman's: root is the user, 1.. its subordinate ids (through newuidmap), setgroups allowed
    const r = u.run("/usr/bin/unshare", ["--user", "--map-root-user", "--map-auto", "--mount", "--", TSRUN, "--root", root, "run", "--bundle", dir, "podmanlike"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.split("\n").slice(0, 2)).toEqual(["1:3", "1"]);
    expect(r.stdout.split("\n")[2].split(",")).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev", "noexec"]));
    expect(r.stdout.split("\n")[3]).toBe("locked");
    expect(r.status).toBe(0);
  });
});
