// What tsrun-init does between the container's set-up and the execve, in the order runc 1.1.5's init does
// it (issue 14), observed from inside and compared with runc on the same bundles:
//  - the seccomp filter comes last: a profile whose default is ERRNO needs only the calls runc's init makes
//    under its filter (the OCI runtime-tools default profile has no openat2, close_range, faccessat2 or
//    pidfd_open), for run and exec, with and without noNewPrivileges;
//  - the cwd is entered as root first, then as the process's user when root is refused;
//  - startContainer hooks run under the filter, createContainer hooks in the root filesystem's directory;
//  - a NOTIFY rule on write is refused at create.
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Runc } from "../helpers/runc.js";
import { ROOTFS, Scratch, TOP, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
const rc = new Runc(s.dir);
const runcIds = new Set<string>();
/** Host directories bind-mounted into the containers. */
let rootOnly: string; // 0700 root, with a file f: only root can enter it
let shared: string; // 0777: where processes and hooks leave files
beforeAll(() => {
  ensureBuilt();
  rc.require();
  rootOnly = join(s.dir, "root-only");
  mkdirSync(rootOnly, { mode: 0o700 });
  writeFileSync(join(rootOnly, "f"), "secret\n");
  shared = join(s.dir, "shared");
  mkdirSync(shared);
  chmodSync(shared, 0o777);
});
afterAll(() => {
  for (const id of runcIds) rc.run(["delete", "--force", id]);
  rc.cleanup();
  expect(s.cleanup()).toEqual([]);
});

let n = 0;
/** A runc container id, deleted at the end even when a test fails. */
const runcId = (name: string) => {
  const id = `io-${name}-${n++}`;
  runcIds.add(id);
  return id;
};
const runc = (args: string[], detached = false) => rc.run(args, { detached, cwd: s.dir });

const FIXTURE = JSON.parse(readFileSync(join(TOP, "test/fixtures/seccomp-default-shape.json"), "utf8"));
/** The Docker-shaped default profile (ERRNO by default) without the given syscalls. */
function profileWithout(names: readonly string[]): unknown {
  const p = structuredClone(FIXTURE);
  p.syscalls = p.syscalls
    .map((r: { names: string[] }) => ({ ...r, names: r.names.filter((x) => !names.includes(x)) }))
    .filter((r: { names: string[] }) => r.names.length);
  return p;
}
/** What the runtime-tools default profile lacks of the Docker set, and what runc's init never calls under
 *  its filter (umask, sched_setaffinity, personality): runc runs under it with and without no_new_privs. */
const NOT_UNDER_FILTER = ["openat2", "close_range", "faccessat2", "pidfd_open", "umask", "sched_setaffinity", "personality"];
const RUNC_NEEDS = profileWithout(NOT_UNDER_FILTER);

const ROOT_ONLY_MOUNT = () => ({ destination: "/srv", type: "bind", source: rootOnly, options: ["bind"] });
const SHARED_MOUNT = () => ({ destination: "/mnt", type: "bind", source: shared, options: ["bind"] });

/** What a process sees of its identity, limits, filter and cwd. */
const PROBE = "id; grep -E '^(Umask|NoNewPrivs|Seccomp|Cap(Inh|Prm|Eff|Bnd|Amb))' /proc/self/status; pwd; readlink /proc/self/cwd; ls /proc/self/fd | wc -l";

/** `run` the bundle under runc and tsrun (foreground); both results. */
function runBoth(bundle: string, name: string) {
  return { theirs: runc(["run", "--bundle", bundle, runcId(name)]), ours: s.tsrun(["run", "--bundle", bundle, s.id(name)]) };
}

type ExecBoth = (flags: string[], command: string[]) => { theirs: ReturnType<typeof runc>; ours: ReturnType<Scratch["tsrun"]> };
/** The bundle's container detached under runc and under tsrun; fn execs in both (`exec FLAGS ID COMMAND`); both deleted after. */
function withBoth(bundle: string, name: string, fn: (exec: ExecBoth) => void) {
  const theirId = runcId(name);
  const ourId = s.id(name);
  try {
    expect(runc(["run", "-d", "--bundle", bundle, theirId], true).status).toBe(0);
    const ours = s.tsrun(["run", "-d", "--bundle", bundle, ourId]);
    expect(ours.stderr).toBe("");
    expect(ours.status).toBe(0);
    fn((flags, command) => ({ theirs: runc(["exec", ...flags, theirId, ...command]), ours: s.tsrun(["exec", ...flags, ourId, ...command]) }));
  } finally {
    runc(["delete", "--force", theirId]);
    s.tsrun(["delete", "--force", ourId]);
  }
}

describe("the seccomp filter is the last thing loaded before the process runs", () => {
  test.each([false, true])("noNewPrivileges %s: run and exec under a runtime-tools-shaped profile (no openat2, close_range, ...), as under runc", (nnp) => {
    const bundle = s.bundle((c) => {
      c.process.args = ["sh", "-c", PROBE];
      c.process.noNewPrivileges = nnp;
      c.process.user = { uid: 1000, gid: 1000, umask: 0o027 };
      c.process.cwd = "/tmp";
      c.linux.seccomp = RUNC_NEEDS;
    });
    const { theirs, ours } = runBoth(bundle, "rt");
    expect(theirs.stderr).toBe("");
    expect(theirs.status).toBe(0);
    expect(ours.stderr).toBe("");
    expect(ours.status).toBe(0);
    expect(ours.stdout).toContain("uid=1000(app) gid=1000");
    expect(ours.stdout).toContain("Umask:\t0027\n");
    expect(ours.stdout).toContain(`NoNewPrivs:\t${nnp ? 1 : 0}\nSeccomp:\t2\n`);
    expect(ours.stdout).toBe(theirs.stdout);

    // No umask here: runc's exec does not apply the config's (its process keeps runc's 0022), tsrun's does.
    const detached = s.bundle((c) => {
      c.process.args = ["sleep", "1000"];
      c.process.noNewPrivileges = nnp;
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.cwd = "/tmp";
      c.linux.seccomp = RUNC_NEEDS;
    });
    withBoth(detached, "rtexec", (exec) => {
      const e = exec([], ["sh", "-c", PROBE]);
      expect(e.theirs.stderr).toBe("");
      expect(e.ours.stderr).toBe("");
      expect(e.ours.status).toBe(0);
      expect(e.ours.stdout).toContain("Seccomp:\t2\n");
      expect(e.ours.stdout).toBe(e.theirs.stdout);
    });
  });

  test("a profile that also denies getcwd: tsrun runs with and without noNewPrivileges; runc only with it (its init checks the cwd with getcwd under the filter)", () => {
    const noGetcwd = profileWithout([...NOT_UNDER_FILTER, "getcwd"]);
    for (const nnp of [false, true]) {
      const bundle = s.bundle((c) => {
        c.process.args = ["sh", "-c", "id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; readlink /proc/self/cwd"];
        c.process.noNewPrivileges = nnp;
        c.process.user = { uid: 1000, gid: 1000 };
        c.process.cwd = "/tmp";
        c.linux.seccomp = noGetcwd;
      });
      const { theirs, ours } = runBoth(bundle, "nogetcwd");
      expect(ours.stderr).toBe("");
      expect(ours.status).toBe(0);
      expect(ours.stdout).toBe(`1000\nNoNewPrivs:\t${nnp ? 1 : 0}\nSeccomp:\t2\n/tmp\n`);
      if (nnp) {
        expect(theirs.stdout).toBe(ours.stdout);
      } else {
        // A deliberate difference (spec-notes.md): Debian's runc 1.1.5 carries the CVE-2024-21626 fix,
        // whose getcwd check runs after its filter; tsrun checks the cwd before loading it.
        expect(theirs.status).not.toBe(0);
        expect(theirs.stderr).toContain("failed to verify if current working directory is safe: operation not permitted");
      }
    }
  });

  test.each([false, true])("noNewPrivileges %s: under a profile without getcwd, stat, access, umask, affinity or personality calls, every setting still applies (run and exec)", (nnp) => {
    const tight = profileWithout([...NOT_UNDER_FILTER, "getcwd", "faccessat", "access", "newfstatat", "stat", "lstat", "statx", "readlink", "readlinkat"]);
    const cpus = readFileSync("/sys/devices/system/cpu/online", "utf8").trim();
    const last = cpus.split(/[,-]/).at(-1)!;
    const oneCpu = cpus === last;
    if (oneCpu) console.log("init-order: one online CPU: execCPUAffinity cannot differ from the default here; its value is still checked");
    const probe = (tag: string) => `/bin/grep -E '^(Umask|Cpus_allowed_list|Seccomp|NoNewPrivs):' /proc/self/status; /bin/uname -m; echo ${tag} > ${tag}`;
    const bundle = s.bundle((c) => {
      c.process.args = ["/bin/sh", "-c", `${probe("run")}; exec /bin/sleep 1000`];
      c.process.noNewPrivileges = nnp;
      c.process.user = { uid: 1000, gid: 1000, umask: 0o027 };
      c.process.cwd = "/mnt"; // the shared directory: a file written "here" lands there
      c.process.execCPUAffinity = { final: last };
      c.linux.personality = { domain: "LINUX32" };
      c.mounts.push(SHARED_MOUNT());
      c.linux.seccomp = tight;
    });
    const id = s.id("tight");
    const r = s.tsrun(["run", "-d", "--bundle", bundle, id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const status = `Umask:\t0027\nNoNewPrivs:\t${nnp ? 1 : 0}\nSeccomp:\t2\nCpus_allowed_list:\t${last}\n`;
    waitFor(() => (existsSync(join(shared, "run")) && readFileSync(join(shared, "run"), "utf8") === "run\n" ? true : undefined), 10_000);
    expect(readFileSync(r.outFile, "utf8")).toBe(`${status}i686\n`);
    const e = s.tsrun(["exec", id, "/bin/sh", "-c", probe("exec")]);
    expect(e.stderr).toBe("");
    expect(e.status).toBe(0);
    // linux.personality is the init's: an exec'd process keeps the caller's (as runc's exec)
    expect(e.stdout).toBe(`${status}x86_64\n`);
    expect(readFileSync(join(shared, "exec"), "utf8")).toBe("exec\n");
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
    for (const f of ["run", "exec"]) writeFileSync(join(shared, f), "");
  });
});

describe("the cwd is entered as root, then as the process's user", () => {
  test("a non-root process whose cwd only root can enter starts there, as under runc", () => {
    const bundle = s.bundle((c) => {
      c.process.args = ["sh", "-c", "pwd; id -u; ls 2>&1; cat f 2>&1; true"];
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.cwd = "/srv";
      c.mounts.push(ROOT_ONLY_MOUNT());
    });
    const { theirs, ours } = runBoth(bundle, "rootcwd");
    expect(ours.stderr).toBe("");
    expect(ours.status).toBe(0);
    expect(ours.stdout).toBe("/srv\n1000\nls: .: Permission denied\ncat: can't open 'f': Permission denied\n");
    expect(ours.stdout).toBe(theirs.stdout);
  });

  test("exec --user into a cwd the user cannot enter starts there (root enters it); a cwd that is not a directory fails naming it; --process without user is root", () => {
    const bundle = s.bundle((c) => {
      c.process.args = ["sleep", "1000"];
      c.mounts.push(ROOT_ONLY_MOUNT());
    });
    withBoth(bundle, "execcwd", (exec) => {
      const ok = exec(["--user", "1000:1000", "--cwd", "/srv"], ["sh", "-c", "pwd; id -u"]);
      expect(ok.ours.stderr).toBe("");
      expect(ok.ours.stdout).toBe("/srv\n1000\n");
      expect(ok.ours.stdout).toBe(ok.theirs.stdout);

      const file = exec(["--user", "1000", "--cwd", "/srv/f"], ["true"]);
      expect(file.theirs.status).toBe(255);
      expect(file.ours.status).toBe(255);
      expect(file.ours.stderr).toBe("tsrun: chdir /srv/f: Not a directory\n");

      const proc = join(s.dir, "no-user.json");
      writeFileSync(proc, JSON.stringify({ args: ["sh", "-c", "id -u; pwd"], cwd: "/srv", env: ["PATH=/bin:/usr/bin"] }));
      const noUser = exec(["--process", proc], []);
      expect(noUser.ours.stderr).toBe("");
      expect(noUser.ours.stdout).toBe("0\n/srv\n");
      expect(noUser.ours.stdout).toBe(noUser.theirs.stdout);
    });
  });

  describe("in a user namespace (root there cannot enter a directory whose group it does not map)", () => {
    // The container's root mounts them: their parent must let it through (the scratch dir is 0700).
    let parent: string;
    let mine: string; // owned by the container's uid 1000, group host root (unmapped), 0700
    let hostRoot: string; // owned by the host's root (unmapped), 0700: nobody in the container enters it
    beforeAll(() => {
      parent = mkdtempSync(join(tmpdir(), "tsrun-userns-"));
      chmodSync(parent, 0o711);
      mine = join(parent, "mine");
      mkdirSync(mine, { mode: 0o700 });
      chownSync(mine, 101000, 0);
      hostRoot = join(parent, "host-root");
      mkdirSync(hostRoot, { mode: 0o700 });
    });
    afterAll(() => rmSync(parent, { recursive: true, force: true }));
    const userns = (c: any) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // sysfs and cgroup mounts need privileges over the host's network/cgroup: not in a user namespace.
      c.mounts = c.mounts.filter((m: any) => m.type !== "sysfs" && m.type !== "cgroup");
      c.mounts.push({ destination: "/srv", type: "bind", source: mine, options: ["bind"] });
      c.mounts.push({ destination: "/opt", type: "bind", source: hostRoot, options: ["bind"] });
    };

    test("the user's own directory: entered after the user change, as under runc; one neither may enter fails naming it", () => {
      const asUser = s.bundle((c) => {
        userns(c);
        c.process.args = ["sh", "-c", "pwd; id -u"];
        c.process.user = { uid: 1000, gid: 1000 };
        c.process.cwd = "/srv";
      });
      const { theirs, ours } = runBoth(asUser, "usernscwd");
      expect(ours.stderr).toBe("");
      expect(ours.stdout).toBe("/srv\n1000\n");
      expect(ours.stdout).toBe(theirs.stdout);

      const asRoot = s.bundle((c) => {
        userns(c);
        c.process.args = ["true"];
        c.process.cwd = "/srv";
      });
      const refused = runBoth(asRoot, "usernsroot");
      expect(refused.theirs.status).not.toBe(0);
      expect(refused.theirs.stderr).toContain('chdir to cwd (\\"/srv\\") set in config.json failed: permission denied');
      expect(refused.ours.status).toBe(1);
      expect(refused.ours.stderr).toBe("tsrun: chdir /srv: Permission denied (as root and as the process's user)\n");
    });

    test("exec --user: the same, and never as the host's root (which owns /opt on the host)", () => {
      const bundle = s.bundle((c) => {
        userns(c);
        c.process.args = ["sleep", "1000"];
      });
      withBoth(bundle, "usernsexec", (exec) => {
        const ok = exec(["--user", "1000", "--cwd", "/srv"], ["sh", "-c", "pwd; id -u"]);
        expect(ok.ours.stderr).toBe("");
        expect(ok.ours.stdout).toBe("/srv\n1000\n");
        expect(ok.ours.stdout).toBe(ok.theirs.stdout);
        for (const [user, cwd] of [["1000", "/opt"], ["0", "/srv"]]) {
          const r = exec(["--user", user!, "--cwd", cwd!], ["true"]);
          expect(r.theirs.status).toBe(255);
          expect(r.ours.status).toBe(255);
          expect(r.ours.stderr).toBe(`tsrun: chdir ${cwd}: Permission denied (as root and as the process's user)\n`);
        }
      });
    });
  });
});

describe("hooks, and what may not be notified", () => {
  test.each([false, true])("noNewPrivileges %s: startContainer hooks run under the filter, createContainer hooks in the root filesystem's directory, as under runc", (nnp) => {
    const record = (rt: string) => {
      const d = join(shared, `${rt}-${nnp}`);
      mkdirSync(d);
      chmodSync(d, 0o777);
      return d;
    };
    const results: Record<string, string> = {};
    for (const rt of ["runc", "tsrun"]) {
      const d = record(rt);
      const bundle = s.bundle((c) => {
        c.process.noNewPrivileges = nnp;
        c.mounts.push(SHARED_MOUNT());
        // No pidfd_open and no close_range for tsrun-init's hook runner either; mkdir denied (the default, EPERM).
        c.linux.seccomp = profileWithout([...NOT_UNDER_FILTER, "mkdir", "mkdirat"]);
        c.hooks = {
          createContainer: [{ path: join(ROOTFS, "bin/busybox"), args: ["sh", "-c", `pwd > ${d}/create`] }],
          startContainer: [{ path: "/bin/sh", args: ["sh", "-c", `mkdir /mnt/${rt}-${nnp}/made; echo mkdir=$? > /mnt/${rt}-${nnp}/start`] }],
        };
      });
      const r = rt === "runc" ? runc(["run", "--bundle", bundle, runcId("hooks")]) : s.tsrun(["run", "--bundle", bundle, s.id("hooks")]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(existsSync(join(d, "made"))).toBe(false);
      results[rt] = `${readFileSync(join(d, "create"), "utf8")}${readFileSync(join(d, "start"), "utf8")}`;
    }
    expect(results.tsrun).toBe(`${ROOTFS}\nmkdir=1\n`);
    expect(results.tsrun).toBe(results.runc);
  });

  test("a NOTIFY rule on write is refused at create, naming the field, as runc refuses it", () => {
    const bundle = s.bundle((c) => {
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: join(s.dir, "agent.sock"), syscalls: [{ names: ["mkdir", "write"], action: "SCMP_ACT_NOTIFY" }] };
    });
    const { theirs, ours } = runBoth(bundle, "notifywrite");
    expect(theirs.status).not.toBe(0);
    expect(theirs.stderr).toContain("SCMP_ACT_NOTIFY cannot be used for the write syscall");
    expect(ours.status).toBe(1);
    expect(ours.stderr).toBe(
      "tsrun: config.json /linux/seccomp/syscalls/0/names/1: SCMP_ACT_NOTIFY cannot be used for the write syscall (tsrun-init writes to the exec fifo after loading the filter)\n",
    );
  });
});
