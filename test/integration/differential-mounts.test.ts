// Differential mount tests: the same bundles under runc and tsrun; the container's mount table
// (mount point, per-mount options, propagation tags, fs type, source, superblock options; minus the
// ids) must be the same. Known differences are listed in spec-notes.md and named where they are
// taken out here.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Runc } from "../helpers/runc.js";
import { ROOTFS, Scratch, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
const rc = new Runc(s.dir);
let n = 0;
beforeAll(() => {
  ensureBuilt();
  rc.require();
});
afterAll(() => {
  rc.cleanup();
  expect(s.cleanup()).toEqual([]);
});

/** One line per mount: point, options, propagation tags without their ids, type, source, super options. */
const PROBE = `awk '{ sep = 0; tags = ""; for (i = 7; i <= NF; i++) { if ($i == "-") { sep = i; break } t = $i; sub(/:[0-9]+$/, "", t); tags = tags t "," } print $5, $6, tags, $(sep+1), $(sep+2), $(sep+3) }' /proc/self/mountinfo | sort`;

/** Mount table lines under runc and tsrun for the same bundle edit. */
function both(edit: (c: any) => void): { runc: string[]; tsrun: string[] } {
  const bundle = s.bundle((c) => {
    c.process.args = ["sh", "-c", PROBE];
    edit(c);
  });
  const r = rc.run(["run", "--bundle", bundle, `dm${n++}`], { cwd: s.dir });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const t = s.tsrun(["run", "--bundle", bundle, s.id("dm")]);
  expect(t.stderr).toBe("");
  expect(t.status).toBe(0);
  return { runc: lines(r.stdout), tsrun: lines(t.stdout) };
}

/** Read-only paths of the demo config and of the tests below. */
const RO_PATHS = new Set(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/tmp"]);

/**
 * Known differences (spec-notes.md, "Differences from runc"), taken out of both sides:
 * - on a hybrid host tsrun also mounts cgroup2 at /sys/fs/cgroup/unified;
 * - tsrun remounts the tmpfs of a read-only `cgroup` mount read-only too (runc: only the hierarchies);
 * - a fresh cgroup v1 mount's source is "cgroup" under tsrun, the hierarchy's name under runc;
 * - read-only paths are also nosuid,nodev,noexec under tsrun (runc keeps what the mount had).
 */
const lines = (out: string): string[] =>
  out
    .trim()
    .split("\n")
    .filter((l) => !l.startsWith("/sys/fs/cgroup/unified "))
    .map((l) => {
      const f = l.split(" ");
      if (f[0] === "/sys/fs/cgroup" && f[3] === "tmpfs") {
        f[1] = f[1].replace(/^ro,/, "rw,");
        f[5] = f[5].replace(/^ro,/, "rw,");
      }
      if (f[0].startsWith("/sys/fs/cgroup/") && f[3] === "cgroup") f[4] = "cgroup";
      if (RO_PATHS.has(f[0])) f[1] = f[1].split(",").filter((o) => !["nosuid", "nodev", "noexec"].includes(o)).join(",");
      return f.join(" ");
    });

test("the default config: the same mount table", () => {
  const { runc, tsrun } = both(() => {});
  expect(tsrun).toEqual(runc);
});

test("binds: ro bind, rbind with a submount, file bind", () => {
  const dir = join(s.dir, "bind-src");
  mkdirSync(join(dir, "sub"), { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tsrun-diff-sub", join(dir, "sub")]);
  const file = join(s.dir, "bind-file");
  writeFileSync(file, "f\n");
  try {
    const { runc, tsrun } = both((c) => {
      c.mounts.push({ destination: "/ro", type: "bind", source: dir, options: ["bind", "ro"] });
      c.mounts.push({ destination: "/rb", type: "bind", source: dir, options: ["rbind", "nosuid", "nodev"] });
      c.mounts.push({ destination: "/etc/hostfile", type: "bind", source: file, options: ["bind", "ro"] });
    });
    expect(tsrun).toEqual(runc);
  } finally {
    execFileSync("umount", ["-l", join(dir, "sub")]);
  }
});

test("tmpfs with size and mode, and rro on an rbind", () => {
  const dir = join(s.dir, "rro-src");
  mkdirSync(join(dir, "sub"), { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tsrun-diff-rro", join(dir, "sub")]);
  try {
    const { runc, tsrun } = both((c) => {
      c.mounts.push({ destination: "/t", type: "tmpfs", source: "tmpfs", options: ["size=3m", "mode=750", "nosuid"] });
      c.mounts.push({ destination: "/r", type: "bind", source: dir, options: ["rbind", "rro", "rnoexec"] });
    });
    expect(tsrun).toEqual(runc);
  } finally {
    execFileSync("umount", ["-l", join(dir, "sub")]);
  }
});

test("propagation options and rootfsPropagation", () => {
  const dir = join(s.dir, "prop-src");
  mkdirSync(dir, { recursive: true });
  const { runc, tsrun } = both((c) => {
    c.linux.rootfsPropagation = "rslave";
    c.mounts.push({ destination: "/p1", type: "bind", source: dir, options: ["rbind", "rprivate"] });
    c.mounts.push({ destination: "/p2", type: "tmpfs", source: "tmpfs", options: ["shared"] });
    c.mounts.push({ destination: "/p3", type: "tmpfs", source: "tmpfs", options: ["unbindable"] });
  });
  expect(tsrun).toEqual(runc);
});

test("masked and read-only paths, including a directory and a file of the rootfs", () => {
  const { runc, tsrun } = both((c) => {
    c.linux.maskedPaths.push("/etc/passwd", "/home");
    c.linux.readonlyPaths.push("/tmp");
    c.root.readonly = false;
  });
  expect(tsrun).toEqual(runc);
});

test("sysfs without a network namespace: read-only under tsrun (issue 3), as given under runc 1.1", () => {
  const { runc, tsrun } = both((c) => {
    c.linux.namespaces = c.linux.namespaces.filter((x: any) => x.type !== "network");
    c.mounts = c.mounts.map((m: any) => (m.type === "sysfs" ? { ...m, options: ["nosuid", "noexec", "nodev"] } : m));
  });
  const sys = (l: string[]) => l.find((x) => x.startsWith("/sys "))!;
  expect(sys(tsrun)).toMatch(/^\/sys ro,/);
  expect(sys(runc)).toMatch(/^\/sys rw,/);
  const same = (l: string[]) => l.map((x) => (x.startsWith("/sys ") ? x.replace(/^\/sys ro,/, "/sys rw,").replace(/ ro$/, " rw") : x));
  expect(same(tsrun)).toEqual(same(runc));
});

// Issue 14: what runc's bats suite, the runtime-tools validation and the CRI validation found.
describe("issue 14: devices, read-only /dev, user namespaces, namespaces, --no-pivot", () => {
  interface Outcome {
    status: number | null;
    stdout: string;
    stderr: string;
  }
  const SH = "/bin/sh";

  /** `run` of the same bundle under runc and tsrun, with extra run flags, each runtime started by `wrap` (a
   *  command line the runtime's own command line is appended to). */
  function runBoth(edit: (c: any) => void, opts: { flags?: string[]; wrap?: string[] } = {}): { runc: Outcome; tsrun: Outcome } {
    const bundle = s.bundle(edit);
    const one = (argv: string[]): Outcome => {
      const all = [...(opts.wrap ?? []), ...argv];
      const r = spawnSync(all[0], all.slice(1), { encoding: "utf8", env: {}, cwd: s.dir, timeout: 30_000, killSignal: "SIGKILL" });
      return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    };
    const runc = one([rc.path!, "--root", rc.root, "run", ...(opts.flags ?? []), "--bundle", bundle, `dm${n++}`]);
    const tsrun = one([TSRUN, "--root", s.root, "run", ...(opts.flags ?? []), "--bundle", bundle, s.id("dm14")]);
    return { runc, tsrun };
  }

  const ok = (o: Outcome): string => {
    expect(o.stderr).toBe("");
    expect(o.status).toBe(0);
    return o.stdout;
  };

  const userns = (c: any) => {
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    // the host's cgroup tree cannot be bound by a user namespace's root without a cgroup namespace
    c.mounts = c.mounts.filter((m: any) => m.type !== "cgroup");
  };

  /** What these tests could leave or remove in the host's mount table (other tests mount things meanwhile): mounts
   *  under the busybox rootfs or this file's scratch dir, and the host's procfs and sysfs mounts. */
  const hostMounts = (): string[] => {
    const mine = [realpathSync(ROOTFS), s.dir];
    return readFileSync("/proc/self/mountinfo", "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => mine.some((d) => f[4] === d || f[4].startsWith(d + "/")) || ["proc", "sysfs"].includes(f[f.indexOf("-") + 1]))
      .map((f) => f.slice(3).join(" "));
  };

  /** Every node, directory and link of /dev (not inside its submounts) with type, numbers, mode, owner. */
  const DEV_PROBE = `find /dev -xdev | sort | while read f; do stat -c '%n %F %t:%T %a %u %g' "$f"; done`;

  test("a privileged pod's devices (every host device, nested ones included) are made with their parent directories", () => {
    // As containerd's privileged pods: every char and block device of the host's /dev, with its mode and owner
    // (containerd skips pts, shm, fd, mqueue and console), plus a nested one that exists on every machine.
    const devices: any[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory() && !["/dev/pts", "/dev/shm", "/dev/fd", "/dev/mqueue"].includes(p)) walk(p);
        if ((!e.isCharacterDevice() && !e.isBlockDevice()) || p === "/dev/console") continue;
        const st = statSync(p);
        const major = Math.floor(st.rdev / 256) & 0xfff, minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
        devices.push({ path: p, type: e.isCharacterDevice() ? "c" : "b", major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid });
      }
    };
    walk("/dev");
    devices.push({ path: "/dev/tsrun/deep/null", type: "c", major: 1, minor: 3, fileMode: 0o640, uid: 0, gid: 0 });
    const nested = devices.filter((d) => d.path.split("/").length > 3).map((d) => d.path);
    console.log(`issue 14 devices: ${devices.length} host-like devices, nested: ${nested.join(" ")}`);
    const { runc, tsrun } = runBoth((c) => {
      c.process.args = ["sh", "-c", DEV_PROBE];
      c.linux.devices = devices;
      c.linux.resources.devices = [{ allow: true, access: "rwm" }]; // privileged: every device allowed
    });
    const out = ok(tsrun);
    expect(out).toBe(ok(runc));
    expect(out).toContain("/dev/tsrun/deep directory 0:0 755 0 0\n/dev/tsrun/deep/null character special file 1:3 640 0 0\n");
    // the host's 5:2 node in the list is replaced by the link to the container's devpts, as runc's setupPtmx does
    expect(out).toContain("/dev/ptmx symbolic link 0:0 777 0 0\n");
  });

  test("a read-only /dev still gets devpts, shm, mqueue, the default devices and links; then it is read-only", () => {
    const { runc, tsrun } = runBoth((c) => {
      c.process.args = ["sh", "-c", `${DEV_PROBE}; touch /dev/x 2>&1; ${PROBE} | grep '^/dev'`];
      c.mounts.find((m: any) => m.destination === "/dev").options.push("ro");
    });
    const out = ok(tsrun);
    expect(out).toBe(ok(runc));
    expect(out).toMatch(/^touch: \/dev\/x: Read-only file system$/m);
    expect(out).toMatch(/^\/dev ro,nosuid /m);
    expect(out).toMatch(/^\/dev\/pts rw,/m);
  });

  test("a read-only tmpfs with tmpcopyup is filled, then read-only as a mount (the filesystem stays rw, as under runc)", () => {
    const { runc, tsrun } = runBoth((c) => {
      c.process.args = ["sh", "-c", `ls /etc | head -3; ${PROBE} | grep -E '^/(etc|mnt) '`];
      c.mounts.push({ destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "ro", "mode=755"] });
      c.mounts.push({ destination: "/mnt", type: "tmpfs", source: "tmpfs", options: ["ro", "nosuid", "size=1m"] });
    });
    const out = ok(tsrun);
    expect(out).toBe(ok(runc));
    expect(out).toMatch(/^\/etc ro,relatime {2}tmpfs tmpfs rw,mode=755$/m);
  });

  test("a tmpfs over a directory of the image takes the directory's mode, whatever its mode= says (runc 1.1)", () => {
    const { runc, tsrun } = runBoth((c) => {
      c.process.args = ["sh", "-c", "stat -c '%n %a' /root /mnt /etc /home"];
      c.mounts.push({ destination: "/root", type: "tmpfs", source: "tmpfs", options: ["mode=755"] });
      c.mounts.push({ destination: "/mnt", type: "tmpfs", source: "tmpfs" });
      c.mounts.push({ destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"] });
      c.mounts.push({ destination: "/home", type: "bind", source: s.dir, options: ["bind"] });
    });
    const out = ok(tsrun);
    expect(out).toBe(ok(runc));
    // the image's modes (a bind keeps its source's)
    const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);
    expect(out).toBe(`/root ${mode(join(ROOTFS, "root"))}\n/mnt ${mode(join(ROOTFS, "mnt"))}\n/etc ${mode(join(ROOTFS, "etc"))}\n/home ${mode(s.dir)}\n`);
    expect(mode(join(ROOTFS, "root"))).toBe("700");
  });

  test("in a user namespace, a bind source under a 0700 root directory is bound (opened before the namespace, as runc)", () => {
    chmodSync(s.dir, 0o755);
    const locked = mkdtempSync(join(s.dir, "locked-"));
    chmodSync(locked, 0o700);
    mkdirSync(join(locked, "dir/sub"), { recursive: true });
    writeFileSync(join(locked, "dir/foo.txt"), "behind 0700\n");
    writeFileSync(join(locked, "file.txt"), "a file behind 0700\n");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tsrun-diff-locked", join(locked, "dir/sub")]);
    writeFileSync(join(locked, "dir/sub/inner.txt"), "inner\n");
    try {
      const script = "cat /mnt/a/foo.txt /mnt/b /mnt/a/sub/inner.txt; stat -c '%a %u %g' /mnt/a; umount /mnt/a/sub 2>&1; echo umount=$?; ls /proc/self/fd | wc -l";
      const { runc, tsrun } = runBoth((c) => {
        userns(c);
        c.process.args = ["sh", "-c", script];
        for (const k of ["bounding", "effective", "permitted"]) c.process.capabilities[k].push("CAP_SYS_ADMIN");
        c.mounts.push({ destination: "/mnt", type: "tmpfs", source: "tmpfs" });
        c.mounts.push({ destination: "/mnt/a", type: "bind", source: join(locked, "dir"), options: ["rbind"] });
        c.mounts.push({ destination: "/mnt/b", type: "bind", source: join(locked, "file.txt"), options: ["bind", "ro"] });
      });
      const out = ok(tsrun);
      expect(out).toBe(ok(runc));
      // the host's submount stays locked under the bind: the container's root cannot uncover what it hides;
      // and no fd of a source is left to the process (0, 1, 2 and the one ls reads with)
      expect(out).toBe("behind 0700\na file behind 0700\ninner\n755 65534 65534\numount: can't unmount /mnt/a/sub: Invalid argument\numount=1\n4\n");
    } finally {
      execFileSync("umount", ["-l", join(locked, "dir/sub")]);
    }
  });

  test("data options on a bind mount (mode=755, size=) are accepted and ignored", () => {
    const dir = mkdtempSync(join(s.dir, "bind-data-"));
    const { runc, tsrun } = runBoth((c) => {
      c.process.args = ["sh", "-c", `${PROBE} | grep '^/mnt'`];
      c.mounts.push({ destination: "/mnt", type: "bind", source: dir, options: ["rbind", "mode=755", "size=10k", "ro"] });
    });
    const out = ok(tsrun);
    expect(out).toBe(ok(runc));
    expect(out).toMatch(/^\/mnt ro,relatime /);
  });

  test("no mount namespace: the root is built in the runtime's namespace and chrooted into (run where the host cannot see it)", () => {
    const before = hostMounts();
    // A private mount namespace of the test's own stands in for the host: what the runtimes mount there
    // goes when it ends. Its first line of output is its namespace, which the container must share.
    const wrap = ["/usr/bin/unshare", "-m", "--propagation", "private", SH, "-c", 'readlink /proc/self/ns/mnt; exec "$@"', SH];
    const { runc, tsrun } = runBoth(
      (c) => {
        c.process.args = ["sh", "-c", `readlink /proc/self/ns/mnt; ${PROBE}`];
        c.linux.namespaces = c.linux.namespaces.filter((x: any) => x.type !== "mount");
        delete c.linux.maskedPaths;
        delete c.linux.readonlyPaths;
        c.root.readonly = false; // runc ignores it without a mount namespace (tsrun does not: see below)
      },
      { wrap },
    );
    const [rNs, rCtr, ...rMounts] = ok(runc).trim().split("\n");
    const [tNs, tCtr, ...tMounts] = ok(tsrun).trim().split("\n");
    expect(rCtr).toBe(rNs);
    expect(tCtr).toBe(tNs);
    expect(tNs).not.toBe(readlinkSync("/proc/self/ns/mnt"));
    expect(lines(tMounts.join("\n"))).toEqual(lines(rMounts.join("\n")));
    expect(tMounts.length).toBeGreaterThan(5);
    // a read-only root is made read-only (runc leaves it writable without a mount namespace)
    const ro = s.bundle((c) => {
      c.process.args = ["sh", "-c", "touch /x 2>&1"];
      c.linux.namespaces = c.linux.namespaces.filter((x: any) => x.type !== "mount");
      delete c.linux.maskedPaths;
      delete c.linux.readonlyPaths;
    });
    const r = spawnSync("/usr/bin/unshare", ["-m", "--propagation", "private", TSRUN, "--root", s.root, "run", "--bundle", ro, s.id("dm14ro")], { encoding: "utf8", env: {} });
    expect(r.stdout).toBe("touch: /x: Read-only file system\n");
    expect(hostMounts()).toEqual(before);
  });

  test("a mount namespace joined by path gets the same root as under runc (built and pivoted in it)", () => {
    const before = hostMounts();
    const holders: ReturnType<typeof spawn>[] = [];
    const nsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/mnt`);
    try {
      const ns: string[] = [];
      // one holder per runtime: the pivot moves the holder's root into the container's
      const joined = (c: any) => {
        const h = spawn("/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sleep", "1000"], { stdio: "ignore" });
        holders.push(h);
        waitFor(() => (nsOf(h.pid!) !== nsOf(process.pid) ? true : undefined));
        ns.push(nsOf(h.pid!));
        c.linux.namespaces = c.linux.namespaces.map((x: any) => (x.type === "mount" ? { type: "mount", path: `/proc/${h.pid}/ns/mnt` } : x));
      };
      const bundleFor = () =>
        s.bundle((c) => {
          c.process.args = ["sh", "-c", `readlink /proc/self/ns/mnt; ${PROBE}`];
          joined(c);
        });
      const r = rc.run(["run", "--bundle", bundleFor(), `dm${n++}`], { cwd: s.dir });
      const t = s.tsrun(["run", "--bundle", bundleFor(), s.id("dm14j")]);
      const [rNs, ...rMounts] = ok(r).trim().split("\n");
      const [tNs, ...tMounts] = ok(t).trim().split("\n");
      expect([rNs, tNs]).toEqual(ns);
      expect(lines(tMounts.join("\n"))).toEqual(lines(rMounts.join("\n")));
      expect(tMounts.some((l) => l.startsWith("/proc/acpi "))).toBe(true);
    } finally {
      for (const h of holders) h.kill("SIGKILL");
    }
    expect(hostMounts()).toEqual(before);
  });

  test("--no-pivot: a process of the container cannot mount a fresh procfs (the host's is detached first)", () => {
    const before = hostMounts();
    const edit = (c: any) => {
      c.process.args = ["unshare", "-mrpf", "sh", "-c", "mount -t proc none /proc && echo mounted"];
      c.process.capabilities.bounding.push("CAP_SETFCAP");
      c.process.capabilities.permitted.push("CAP_SETFCAP");
    };
    for (const [name, more] of [["without", () => {}], ["with", userns]] as const) {
      const { runc, tsrun } = runBoth((c) => {
        edit(c);
        more(c);
      }, { flags: ["--no-pivot"] });
      expect({ name, ...tsrun }).toEqual({ name, ...runc });
      expect(tsrun.status).toBe(1);
      expect(tsrun.stderr).toBe("mount: permission denied (are you root?)\n");
    }
    // the same process in a pivoted container is refused too, and without --no-pivot tsrun needs no detaching
    const pivoted = s.tsrun(["run", "--bundle", s.bundle(edit), s.id("dm14p")]);
    expect(pivoted.stderr).toBe("mount: permission denied (are you root?)\n");
    expect(hostMounts()).toEqual(before);
  });
});
