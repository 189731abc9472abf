// Mount options observed from inside real containers (issue 3, "Mounts"): recursive attributes,
// read-only binds, file binds, tmpcopyup, unknown options, sysfs without a network namespace, and
// hostile root filesystems whose paths are symlinks out of the rootfs (CVE-2021-30465 and
// CVE-2025-31133 classes): tsrun must never mount or write outside the rootfs.
import { execFileSync } from "node:child_process";
import { spawnSync } from "node:child_process";
import { realpathSync, chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOTFS, Scratch, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

/** `tsrun run` of a shell script; the whole result, for tests that expect a failure. */
function run(script: string, edit: (c: any) => void = () => {}) {
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    edit(c);
  });
  return s.tsrun(["run", "--bundle", b, s.id("m")]);
}

function inside(script: string, edit: (c: any) => void = () => {}): string {
  const r = run(script, edit);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** A host directory with a submount (a tmpfs) in it, for recursive binds; unmounted by the caller. */
function treeWithSubmount(name: string): string {
  const dir = join(s.dir, name);
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "top.txt"), "top\n");
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tsrun-test-sub", join(dir, "sub")]);
  writeFileSync(join(dir, "sub", "inner.txt"), "inner\n");
  return dir;
}

function umount(dir: string): void {
  execFileSync("umount", ["-l", dir]);
}

const mountinfoHost = (): string[] => readFileSync("/proc/self/mountinfo", "utf8").trim().split("\n").map((l) => l.split(" ").slice(4, 6).join(" "));

describe("recursive attributes", () => {
  test("rro on an rbind makes the submounts read-only too; ro alone leaves them writable", () => {
    const dir = treeWithSubmount("rro");
    try {
      const script = "(echo x > /d/top.txt) 2>/dev/null; echo top=$?; (echo x > /d/sub/inner.txt) 2>/dev/null; echo sub=$?";
      const bind = (options: string[]) => (c: any) => c.mounts.push({ destination: "/d", type: "bind", source: dir, options });
      expect(inside(script, bind(["rbind", "rro"]))).toBe("top=1\nsub=1\n");
      expect(inside(script, bind(["rbind", "ro"]))).toBe("top=1\nsub=0\n");
      expect(readFileSync(join(dir, "top.txt"), "utf8")).toBe("top\n");
    } finally {
      umount(join(dir, "sub"));
    }
  });

  test("rnoexec, rnosuid, rnodev, rnoatime and rnosymfollow show in mountinfo of every mount of the tree", () => {
    const dir = treeWithSubmount("rattr");
    try {
      const out = inside("awk '$5 ~ /^\\/d(\\/|$)/ {print $5, $6}' /proc/self/mountinfo", (c) =>
        c.mounts.push({ destination: "/d", type: "bind", source: dir, options: ["rbind", "rnoexec", "rnosuid", "rnodev", "rnoatime", "rnosymfollow"] }),
      );
      const lines = out.trim().split("\n");
      expect(lines.map((l) => l.split(" ")[0]).sort()).toEqual(["/d", "/d/sub"]);
      for (const l of lines) for (const f of ["nosuid", "nodev", "noexec", "noatime", "nosymfollow"]) expect(l.split(" ")[1].split(",")).toContain(f);
    } finally {
      umount(join(dir, "sub"));
    }
  });
});

describe("bind mounts", () => {
  test("a read-only bind is really read-only, and the host source is unchanged", () => {
    const dir = join(s.dir, "robind");
    mkdirSync(dir);
    writeFileSync(join(dir, "f"), "host\n");
    const out = inside("(echo x > /d/f) 2>&1; echo $?; touch /d/new 2>/dev/null; echo $?; awk '$5 == \"/d\" {print $6}' /proc/self/mountinfo", (c) =>
      c.mounts.push({ destination: "/d", type: "bind", source: dir, options: ["bind", "ro"] }),
    );
    expect(out).toMatch(/Read-only file system\n1\n1\nro,/);
    expect(readFileSync(join(dir, "f"), "utf8")).toBe("host\n");
    expect(readdirSync(dir)).toEqual(["f"]);
  });

  test("a file source gets a file mount point, created inside a read-only rootfs copy's tmpfs", () => {
    const file = join(s.dir, "bound.txt");
    writeFileSync(file, "bound\n");
    const out = inside("test -f /tmp/x/bound.txt && cat /tmp/x/bound.txt", (c) => {
      c.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] });
      c.mounts.push({ destination: "/tmp/x/bound.txt", type: "bind", source: file, options: ["rbind", "ro"] });
    });
    expect(out).toBe("bound\n");
  });

  test("in a user namespace, a file mount point made by tsrun belongs to the container's root", () => {
    // the namespace's root (host uid 100000) must be able to reach the source
    chmodSync(s.dir, 0o755);
    const file = join(s.dir, "userns.txt");
    writeFileSync(file, "u\n");
    const out = inside("stat -c '%u %g' /tmp/made; stat -c '%u %g' /tmp", (c) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] });
      c.mounts.push({ destination: "/tmp/made/f", type: "bind", source: file, options: ["bind", "ro"] });
      // sysfs and the host's cgroup tree cannot be mounted by a user namespace's root without its own netns
      c.mounts = c.mounts.filter((m: any) => m.type !== "cgroup");
    });
    expect(out).toBe("0 0\n0 0\n");
  });

  test("in a user namespace, a read-only bind of a nosuid,nodev source works (the locked flags are kept)", () => {
    chmodSync(s.dir, 0o755);
    // A host tmpfs of the test's own, mounted nosuid,nodev: in the user namespace those flags are locked.
    const dir = mkdtempSync(join(s.dir, "locked-"));
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "nosuid,nodev,mode=755", "tmpfs", dir]).status).toBe(0);
    try {
      writeFileSync(join(dir, "f"), "from-shm\n");
      const out = inside("cat /mnt/f; touch /mnt/g 2>/dev/null || echo read-only; grep ' /mnt ' /proc/self/mountinfo | cut -d' ' -f6", (c) => {
        c.linux.namespaces.push({ type: "user" });
        c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.mounts = c.mounts.filter((m: any) => m.type !== "cgroup");
        c.mounts.push({ destination: "/mnt", type: "bind", source: dir, options: ["bind", "ro"] });
      });
      const [content, ro, opts] = out.trim().split("\n");
      expect(content).toBe("from-shm");
      expect(ro).toBe("read-only");
      expect(opts.split(",")).toEqual(expect.arrayContaining(["ro", "nosuid", "nodev"]));
    } finally {
      spawnSync("umount", [dir]);
    }
  });
});

describe("rootfsPropagation unbindable (issue 14; runc 1.1.5 fails to bind the rootfs on such a host)", () => {
  test.each([
    ["unbindable", "root=1 proc=0 unbindable"],
    ["runbindable", "root=1 proc=1 unbindable"],
    ["rprivate", "root=0 proc=0 "],
  ])("%s: what the container can bind of its root and of /proc", (prop, expected) => {
    const script =
      "mkdir /tmp/t; mount --bind / /tmp/t 2>/dev/null; echo -n root=$(( $? != 0 )) ''; umount /tmp/t 2>/dev/null; " +
      "mount --bind /proc /tmp/t 2>/dev/null; echo -n proc=$(( $? != 0 )) ''; awk '$5 == \"/\" {print ($7 == \"unbindable\" ? $7 : \"\")}' /proc/self/mountinfo";
    const out = inside(script, (c) => {
      c.linux.rootfsPropagation = prop;
      for (const k of ["bounding", "effective", "permitted"]) c.process.capabilities[k].push("CAP_SYS_ADMIN");
      c.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
      // a read-only path of the root itself is a bind from inside it: made before "/" becomes unbindable
      c.linux.readonlyPaths.push("/etc");
    });
    expect(out).toBe(`${expected}\n`);
  });
});

describe("tmpcopyup", () => {
  test("a tmpfs over /etc starts with /etc's files, links, modes and owners, and is writable", () => {
    const rootfs = join(s.dir, "copyup-rootfs");
    // realpath: a ROOTFS that is itself a link (a worktree sharing the built rootfs) must be copied, not relinked.
    cpSync(realpathSync(ROOTFS), rootfs, { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(rootfs, "etc/deep/er"), { recursive: true });
    writeFileSync(join(rootfs, "etc/deep/er/secret"), "s\n");
    chmodSync(join(rootfs, "etc/deep/er/secret"), 0o604);
    chownSync(join(rootfs, "etc/deep/er/secret"), 1000, 1001);
    symlinkSync("../passwd", join(rootfs, "etc/deep/pw"));
    const out = inside(
      "cat /etc/deep/er/secret; stat -c '%a %u %g' /etc/deep/er/secret; readlink /etc/deep/pw; head -1 /etc/deep/pw; awk '$5 == \"/etc\" {print $9}' /proc/self/mountinfo; echo w > /etc/new && cat /etc/new",
      (c) => {
        c.root.path = rootfs;
        c.mounts.push({ destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "mode=755"] });
      },
    );
    expect(out).toBe(`s\n604 1000 1001\n../passwd\n${readFileSync(join(rootfs, "etc/passwd"), "utf8").split("\n")[0]}\ntmpfs\nw\n`);
    expect(existsSync(join(rootfs, "etc/new"))).toBe(false);
  });
});

describe("refused and adjusted options", () => {
  test("an unknown option fails create with its JSON path and name, leaving nothing", () => {
    const r = run("true", (c) => c.mounts.push({ destination: "/t", type: "tmpfs", source: "tmpfs", options: ["nosuid", "sise=1m"] }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\/mounts\/7\/options\/1/);
    expect(r.stderr).toContain('"sise=1m"');
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  test("tmpfs size and mode are passed through as data", () => {
    // Under a fresh tmpfs: over a directory that was there the tmpfs would take that one's mode (runc 1.1).
    const out = inside("awk '$5 == \"/mnt/t\"' /proc/self/mountinfo | sed 's/.* - //'; stat -c %a /mnt/t", (c) => {
      c.mounts.push({ destination: "/mnt", type: "tmpfs", source: "tmpfs" });
      c.mounts.push({ destination: "/mnt/t", type: "tmpfs", source: "tmpfs", options: ["size=2m", "mode=710"] });
    });
    expect(out).toBe("tmpfs tmpfs rw,size=2048k,mode=710\n710\n");
  });

  test("sysfs is read-only without a network namespace of its own, even when the config says rw", () => {
    const edit = (netns: boolean) => (c: any) => {
      if (!netns) c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "network");
      c.mounts = c.mounts.map((m: any) => (m.type === "sysfs" ? { ...m, options: ["nosuid", "noexec", "nodev", "rw"] } : m));
    };
    const probe = "awk '$5 == \"/sys\" {print $6}' /proc/self/mountinfo | cut -d, -f1";
    expect(inside(probe, edit(false))).toBe("ro\n");
    expect(inside(probe, edit(true))).toBe("rw\n");
  });

  test("linux.mountLabel without SELinux: the container runs, with one warning line", () => {
    if (existsSync("/sys/fs/selinux/enforce")) return; // the label is applied where SELinux is enabled
    const r = run("echo ok", (c) => (c.linux.mountLabel = "system_u:object_r:container_file_t:s0"));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("ok\n");
    expect(r.stderr).toBe('tsrun: warning: linux.mountLabel "system_u:object_r:container_file_t:s0" ignored: SELinux is not enabled on this host\n');
  });
});

describe("hostile root filesystems", () => {
  /** A copy of the busybox rootfs, changed by `edit`, and a watched host directory outside it. */
  function hostile(name: string, edit: (rootfs: string, watched: string) => void): { rootfs: string; watched: string } {
    const rootfs = join(s.dir, `${name}-rootfs`);
    const watched = join(s.dir, `${name}-watched`);
    // realpath: a ROOTFS that is itself a link (a worktree sharing the built rootfs) must be copied, not relinked.
    cpSync(realpathSync(ROOTFS), rootfs, { recursive: true, verbatimSymlinks: true });
    mkdirSync(watched);
    writeFileSync(join(watched, "canary"), "untouched\n");
    edit(rootfs, watched);
    return { rootfs, watched };
  }

  /** Run the container; whatever the outcome, the watched dir and the host's mount table are unchanged. */
  function attempt(h: { rootfs: string; watched: string }, script: string, edit: (c: any) => void = () => {}) {
    const before = mountinfoHost();
    const r = run(script, (c) => {
      c.root.path = h.rootfs;
      c.root.readonly = false;
      edit(c);
    });
    expect(readdirSync(h.watched)).toEqual(["canary"]);
    expect(readFileSync(join(h.watched, "canary"), "utf8")).toBe("untouched\n");
    expect(mountinfoHost()).toEqual(before);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(h.watched);
    return r;
  }

  test("/proc is a symlink to a host directory: proc is mounted inside the rootfs, never on the host", () => {
    const h = hostile("proc", (rootfs, watched) => {
      rmSync(join(rootfs, "proc"), { recursive: true });
      symlinkSync(watched, join(rootfs, "proc"));
    });
    const r = attempt(h, "test -e /proc/self/status && echo proc-ok");
    // The absolute link resolves inside the root: proc lands on <rootfs><watched>, or create fails.
    if (r.status === 0) expect(r.stdout).toBe("proc-ok\n");
    else expect(r.stderr).toMatch(/^tsrun: .+/);
  });

  test("/etc is a symlink to a host directory: a bind into /etc/... lands inside the rootfs", () => {
    const file = join(s.dir, "hosts-src");
    writeFileSync(file, "bound\n");
    const h = hostile("etc", (rootfs, watched) => {
      rmSync(join(rootfs, "etc"), { recursive: true });
      symlinkSync(watched, join(rootfs, "etc"));
      mkdirSync(join(rootfs, watched), { recursive: true });
    });
    const r = attempt(h, "cat /etc/hosts", (c) => c.mounts.push({ destination: "/etc/hosts", type: "bind", source: file, options: ["bind", "ro"] }));
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("bound\n");
    // the mount point was made under the rootfs, at the path the link names
    expect(existsSync(join(h.rootfs, h.watched, "hosts"))).toBe(true);
  });

  test("/dev is a symlink to a host directory and the config mounts no /dev: nodes and links stay inside", () => {
    const h = hostile("dev", (rootfs, watched) => {
      rmSync(join(rootfs, "dev"), { recursive: true, force: true });
      symlinkSync(watched, join(rootfs, "dev"));
      mkdirSync(join(rootfs, watched), { recursive: true });
    });
    const r = attempt(h, "test -c /dev/null && echo null-ok", (c) => {
      c.mounts = c.mounts.filter((m: any) => !m.destination.startsWith("/dev"));
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("null-ok\n");
  });

  test("/dev is a link through a /proc magic link and there is no pid namespace: device creation refuses it", () => {
    const h = hostile("magic", (rootfs, watched) => {
      rmSync(join(rootfs, "dev"), { recursive: true, force: true });
      // Inside the container, without a pid namespace, /proc/1/root is the host's root.
      symlinkSync(`/proc/1/root${watched}`, join(rootfs, "dev"));
    });
    const r = attempt(h, "true", (c) => {
      c.mounts = c.mounts.filter((m: any) => !m.destination.startsWith("/dev"));
      c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "pid");
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^tsrun: mknod \/dev\/null: open its directory: /);
  });

  test("/dev/null is a symlink to a host file (CVE-2025-31133): it is replaced by the real node, masks hide", () => {
    const h = hostile("null", (rootfs, watched) => {
      rmSync(join(rootfs, "dev"), { recursive: true, force: true });
      mkdirSync(join(rootfs, "dev"));
      symlinkSync(join(watched, "canary"), join(rootfs, "dev/null"));
    });
    const r = attempt(h, "stat -c %t,%T /dev/null; cat /proc/keys | wc -c", (c) => {
      c.mounts = c.mounts.filter((m: any) => m.destination !== "/dev");
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("1,3\n0\n");
  });

  test("a mount destination that is a symlink to a host directory: the tmpfs is mounted inside the rootfs", () => {
    const h = hostile("dest", (rootfs, watched) => {
      symlinkSync(watched, join(rootfs, "mnt/evil"));
      mkdirSync(join(rootfs, watched), { recursive: true });
    });
    const r = attempt(h, `touch /mnt/evil/x && awk '$5 == "${h.watched}" {print $9}' /proc/self/mountinfo`, (c) =>
      c.mounts.push({ destination: "/mnt/evil", type: "tmpfs", source: "tmpfs" }),
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("tmpfs\n");
  });

  test("a destination that is a dangling symlink to a host path: create fails clearly, nothing is made", () => {
    const h = hostile("dangling", (rootfs, watched) => symlinkSync(join(watched, "nowhere"), join(rootfs, "mnt/evil")));
    const r = attempt(h, "true", (c) => c.mounts.push({ destination: "/mnt/evil", type: "tmpfs", source: "tmpfs" }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsrun: mount tmpfs on .*\/mnt\/evil .*No such file or directory\n$/);
    expect(existsSync(join(h.watched, "nowhere"))).toBe(false);
  });

  test("a destination through ../ and a relative link cannot climb out of the rootfs", () => {
    const h = hostile("dots", (rootfs) => symlinkSync("../../../../../../../../..", join(rootfs, "mnt/up")));
    attempt(h, "true", (c) => c.mounts.push({ destination: `/mnt/up${h.watched}`, type: "tmpfs", source: "tmpfs" }));
  });

  test("masked and read-only paths that are symlinks in the rootfs mask inside the container only", () => {
    const h = hostile("mask", (rootfs, watched) => {
      symlinkSync(watched, join(rootfs, "mnt/masked-dir"));
      mkdirSync(join(rootfs, watched), { recursive: true });
      writeFileSync(join(rootfs, watched, "inside"), "i\n");
      mkdirSync(join(rootfs, watched + "2"), { recursive: true });
      symlinkSync(join(watched + "2", "canary"), join(rootfs, "mnt/masked-file"));
      writeFileSync(join(rootfs, watched + "2", "canary"), "inner canary\n");
      mkdirSync(join(rootfs, watched + "3"), { recursive: true });
      symlinkSync(watched + "3", join(rootfs, "mnt/ro-dir"));
    });
    const w = h.watched;
    const r = attempt(h, `ls ${w}; cat ${w}2/canary | wc -c; touch ${w}3/y 2>/dev/null; echo $?`, (c) => {
      c.linux.maskedPaths = ["/mnt/masked-dir", "/mnt/masked-file"];
      c.linux.readonlyPaths = ["/mnt/ro-dir"];
    });
    expect(r.stderr).toBe("");
    // the masking followed the links to their targets inside the root: empty dir, empty file, read-only
    expect(r.stdout).toBe("0\n1\n");
  });
});


describe("masked and read-only paths are judged inside the running container", () => {
  test("a masked file and a read-only directory that only a bind mount provides are hidden and read-only", () => {
    const src = mkdtempSync(join(s.dir, "provided-"));
    chmodSync(src, 0o755);
    writeFileSync(join(src, "secret"), "do-not-show\n");
    mkdirSync(join(src, "ro"));
    const out = inside("cat /data/secret | wc -c; touch /data/ro/x 2>/dev/null || echo ro-denied; touch /data/rw && echo rw-ok", (c) => {
      c.root.readonly = false;
      c.mounts.push({ destination: "/data", type: "bind", source: src, options: ["rbind"] });
      c.linux.maskedPaths = ["/data/secret"];
      c.linux.readonlyPaths = ["/data/ro"];
    });
    expect(out).toBe("0\nro-denied\nrw-ok\n");
    expect(readFileSync(join(src, "secret"), "utf8")).toBe("do-not-show\n");
  });
});

describe("cgroup mounts show the container's own cgroup", () => {
  test("type cgroup2, with and without a cgroup namespace: the container's v2 cgroup, read-only as asked", () => {
    for (const cgroupns of [true, false]) {
      const id = s.id(`cg2-${cgroupns}`);
      const b = s.bundle((c) => {
        c.process.args = ["sh", "-c", "cat /sys/fs/cgroup/cgroup.procs | wc -l; touch /sys/fs/cgroup/x 2>/dev/null || echo ro"];
        c.mounts = c.mounts.filter((m: any) => m.type !== "cgroup");
        c.mounts.push({ destination: "/sys/fs/cgroup", type: "cgroup2", source: "cgroup2", options: ["nosuid", "nodev", "noexec", "ro"] });
        if (!cgroupns) c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "cgroup");
      });
      const r = s.tsrun(["run", "--bundle", b, id]);
      expect(r.stderr).toBe("");
      // Only the container's own processes (sh, cat, wc) are in the cgroup it sees.
      expect(Number(r.stdout.split("\n")[0])).toBeLessThanOrEqual(3);
      expect(r.stdout.split("\n")[1]).toBe("ro");
    }
  });
});
