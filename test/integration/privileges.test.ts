// Privileges and limits (issue 6), observed from inside the container: capabilities, no_new_privs,
// rlimits, oom score, sysctl, personality, scheduler, I/O priority, CPU affinity, the session keyring,
// user namespaces with several ranges, and the escape classes of CVE-2019-5736 / CVE-2024-21626.
// What busybox cannot show (ioprio_get, keyctl) a tiny static probe (test/fixtures/probe) does.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, readFileSync, openSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Runc } from "../helpers/runc.js";
import { ROOTFS, Scratch, TOP, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
const rc = new Runc(s.dir);
const PROBE_DIR = join(s.dir, "probe-bin");
const PROBE = join(PROBE_DIR, "probe");
beforeAll(() => {
  ensureBuilt();
  rc.require();
  // Reachable by a user namespace's root too (bind sources are opened as the container's root).
  chmodSync(s.dir, 0o711);
  mkdirSync(PROBE_DIR, { mode: 0o755 });
  execFileSync("gcc", ["-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", PROBE, join(TOP, "test/fixtures/probe/probe.c")]);
});
afterAll(() => {
  rc.cleanup();
  expect(s.cleanup()).toEqual([]);
});

/** The probe's directory on /mnt (which the image has: a test must not add files to the shared rootfs). */
const probeMount = () => ({ destination: "/mnt", type: "bind", source: PROBE_DIR, options: ["bind", "ro"] });

/** `tsrun run` of a shell script with config edits; returns stdout, failing the test on a bad exit. */
function inside(script: string, edit: (c: any) => void = () => {}, extra: string[] = []): string {
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    edit(c);
  });
  const r = s.tsrun(["run", ...extra, "--bundle", b, s.id("p")]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** A create that must fail before anything exists: its one stderr line, and no state left. */
function refused(edit: (c: any) => void): string {
  const id = s.id("bad");
  const r = s.tsrun(["create", "--bundle", s.bundle(edit), id]);
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(s.tsrun(["state", id]).stderr).toContain("does not exist");
  return r.stderr.trim();
}

const caps = (out: string) => Object.fromEntries([...out.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)].map((m) => [m[1], m[2]]));

describe("capabilities", () => {
  const sets = {
    bounding: ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
    effective: ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
    permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
    inheritable: ["CAP_KILL", "CAP_NET_RAW"],
    ambient: ["CAP_KILL"],
  };
  const script = "grep -E '^Cap' /proc/self/status";

  test.each([
    ["root, no_new_privs", 0, true],
    ["root", 0, false],
    ["uid 1000, no_new_privs", 1000, true],
    ["uid 1000", 1000, false],
  ])("%s: the five sets are the kernel's result of the configured ones, as under runc", (_name, uid, nnp) => {
    const b = s.bundle((c) => {
      c.process.args = ["sh", "-c", script];
      c.process.user = { uid, gid: uid };
      c.process.noNewPrivileges = nnp;
      c.process.capabilities = sets;
    });
    const ours = s.tsrun(["run", "--bundle", b, s.id("caps")]);
    expect(ours.stderr).toBe("");
    const theirs = rc.run(["run", "--bundle", b, `caps${uid}${nnp}`], { cwd: s.dir });
    expect(theirs.status).toBe(0);
    expect(caps(ours.stdout)).toEqual(caps(theirs.stdout));
    // Bits: CHOWN 0, KILL 5, SETUID 7, NET_BIND_SERVICE 10, NET_RAW 13.
    const got = caps(ours.stdout);
    expect(got.CapBnd).toBe("00000000000024a1");
    expect(got.CapInh).toBe("0000000000002020");
    expect(got.CapAmb).toBe("0000000000000020");
    if (uid !== 0) {
      // A non-root user keeps only the ambient set across execve.
      expect([got.CapPrm, got.CapEff]).toEqual(["0000000000000020", "0000000000000020"]);
    } else if (nnp) {
      // Root: execve grants bounding|inheritable, capped by the permitted set under no_new_privs.
      expect([got.CapPrm, got.CapEff]).toEqual(["0000000000002420", "0000000000002420"]);
    } else {
      expect([got.CapPrm, got.CapEff]).toEqual(["00000000000024a1", "00000000000024a1"]);
    }
  });

  test("an unknown capability is refused with its path and name (runc ignores it)", () => {
    const msg = refused((c) => c.process.capabilities.permitted.push("CAP_TELEPORT"));
    expect(msg).toContain("/process/capabilities/permitted/3");
    expect(msg).toContain("CAP_TELEPORT");
  });

  test("a capability tsrun's bounding set lacks (CAP_SYS_RESOURCE here) is refused, naming it", () => {
    expect(readFileSync("/proc/self/status", "utf8")).toMatch(/^CapBnd:\s+[0-9a-f]*[0-9a-f]e[0-9a-f]{6}$/m); // bit 24 clear
    const msg = refused((c) => c.process.capabilities.bounding.push("CAP_SYS_RESOURCE"));
    expect(msg).toContain("/process/capabilities/bounding");
    expect(msg).toContain("CAP_SYS_RESOURCE");
  });

  test("in a new user namespace every capability exists (of that namespace): CAP_SYS_RESOURCE is granted", () => {
    const out = inside(script, (c) => {
      userns(c, [{ containerID: 0, hostID: 100000, size: 65536 }]);
      c.process.capabilities.bounding.push("CAP_SYS_RESOURCE");
      c.process.capabilities.effective.push("CAP_SYS_RESOURCE");
      c.process.capabilities.permitted.push("CAP_SYS_RESOURCE");
    });
    expect(BigInt(`0x${caps(out).CapBnd}`) & (1n << 24n)).toBe(1n << 24n);
    expect(BigInt(`0x${caps(out).CapEff}`) & (1n << 24n)).toBe(1n << 24n);
  });
});

describe("no_new_privs, rlimits, oom score", () => {
  test("noNewPrivileges true and false", () => {
    expect(inside("grep NoNewPrivs /proc/self/status", (c) => (c.process.noNewPrivileges = true))).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(inside("grep NoNewPrivs /proc/self/status", (c) => (c.process.noNewPrivileges = false))).toMatch(/^NoNewPrivs:\s+0$/m);
  });

  // Values below this host's hard limits (tsrun has no CAP_SYS_RESOURCE, so it cannot raise one).
  const LIMITS: [string, string, number, number][] = [
    ["RLIMIT_CPU", "Max cpu time", 1000, 2000],
    ["RLIMIT_FSIZE", "Max file size", 1 << 30, 2 ** 31],
    ["RLIMIT_DATA", "Max data size", 2 ** 31, 2 ** 32],
    ["RLIMIT_STACK", "Max stack size", 4 << 20, 16 << 20],
    ["RLIMIT_CORE", "Max core file size", 0, 1 << 20],
    ["RLIMIT_RSS", "Max resident set", 1 << 29, 1 << 30],
    ["RLIMIT_NPROC", "Max processes", 500, 600],
    ["RLIMIT_NOFILE", "Max open files", 100, 200],
    ["RLIMIT_MEMLOCK", "Max locked memory", 65536, 1 << 20],
    ["RLIMIT_AS", "Max address space", 2 ** 32, 2 ** 33],
    ["RLIMIT_LOCKS", "Max file locks", 30, 40],
    ["RLIMIT_SIGPENDING", "Max pending signals", 50, 60],
    ["RLIMIT_MSGQUEUE", "Max msgqueue size", 8192, 16384],
    ["RLIMIT_NICE", "Max nice priority", 0, 0],
    ["RLIMIT_RTPRIO", "Max realtime priority", 0, 0],
    ["RLIMIT_RTTIME", "Max realtime timeout", 500000, 1000000],
  ];

  test("every RLIMIT_*, soft and hard, in /proc/self/limits", () => {
    const out = inside("cat /proc/self/limits", (c) => (c.process.rlimits = LIMITS.map(([type, , soft, hard]) => ({ type, soft, hard }))));
    for (const [, name, soft, hard] of LIMITS) {
      const row = out.split("\n").find((l) => l.startsWith(name));
      expect(row?.slice(25).trim().split(/\s+/).slice(0, 2)).toEqual([String(soft), String(hard)]);
    }
  });

  test("unlimited (2^64-1) stays unlimited", () => {
    const out = inside("grep 'Max cpu time' /proc/self/limits", (c) => (c.process.rlimits = [{ type: "RLIMIT_CPU", soft: 2 ** 64 - 1, hard: 2 ** 64 - 1 }]));
    expect(out).toMatch(/^Max cpu time\s+unlimited\s+unlimited/);
  });

  test("a hard limit above tsrun's own is refused before anything is created, naming both values", () => {
    const own = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"))!.slice(25).trim().split(/\s+/)[1];
    const msg = refused((c) => (c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 1024, hard: Number(own) + 1 }]));
    expect(msg).toContain("/process/rlimits/0/hard");
    expect(msg).toContain("RLIMIT_NOFILE");
    expect(msg).toContain(`${Number(own) + 1}`);
    expect(msg).toContain(`tsrun's own hard limit ${own}`);
  });

  test("oomScoreAdj", () => {
    expect(inside("cat /proc/self/oom_score_adj", (c) => (c.process.oomScoreAdj = 345))).toBe("345\n");
  });

  test("an oomScoreAdj below tsrun's own needs CAP_SYS_RESOURCE (absent here): one line naming the field", () => {
    expect(readFileSync("/proc/self/oom_score_adj", "utf8").trim()).toBe("0");
    const r = s.tsrun(["run", "--bundle", s.bundle((c) => (c.process.oomScoreAdj = -500)), s.id("oom")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("tsrun: /process/oomScoreAdj: write -500 to /proc/self/oom_score_adj: Permission denied (a value below the one tsrun inherited needs CAP_SYS_RESOURCE)\n");
  });
});

describe("linux.sysctl", () => {
  test("ipc, network and uts keys are written in the container's namespaces; the host's stay", () => {
    const host = ["kernel/shmmax", "net/ipv4/ip_forward", "kernel/domainname", "fs/mqueue/msg_max"].map((k) => readFileSync(`/proc/sys/${k}`, "utf8"));
    const out = inside("cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname /proc/sys/fs/mqueue/msg_max /proc/sys/net/ipv4/conf/lo/forwarding", (c) => {
      c.linux.sysctl = {
        "kernel.shmmax": "12345678",
        "net.ipv4.ip_forward": "1",
        "kernel.domainname": "sysctl.test",
        "fs/mqueue/msg_max": "42",
        "net/ipv4/conf/lo/forwarding": "1",
      };
    });
    expect(out).toBe("12345678\n1\nsysctl.test\n42\n1\n");
    expect(["kernel/shmmax", "net/ipv4/ip_forward", "kernel/domainname", "fs/mqueue/msg_max"].map((k) => readFileSync(`/proc/sys/${k}`, "utf8"))).toEqual(host);
    // /proc/sys is still read-only for the process (readonlyPaths come after the writes).
    expect(inside("(echo 1 > /proc/sys/kernel/shmmax) 2>/dev/null; echo $?")).toBe("1\n");
  });

  test.each([
    ["kernel.pid_max", (c: any) => void c, "would change the host"],
    ["kernel.hostname", (c: any) => void c, "hostname field"],
    ["kernel.shmmax", (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "ipc")), "ipc namespace"],
    ["fs.mqueue.msg_max", (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "ipc")), "ipc namespace"],
    ["net.ipv4.ip_forward", (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "network")), "network namespace"],
    ["net.ipv4.ip_forward", (c: any) => (c.linux.namespaces.find((n: any) => n.type === "network").path = "/proc/self/ns/net"), "host's network namespace"],
    ["kernel.domainname", (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "uts")), "uts namespace"],
  ])("%s is refused (%#) with its path", (key, edit, why) => {
    const msg = refused((c) => {
      edit(c);
      if (key === "kernel.domainname" || key === "kernel.hostname") delete c.hostname;
      c.linux.sysctl = { [key]: "1" };
    });
    expect(msg).toContain(`/linux/sysctl/${key}`);
    expect(msg).toContain(why);
  });

  test("a /proc that is not procfs never receives the write: such a mount is refused before anything runs (runc too)", () => {
    // The write itself goes through the procfs handle, never the container's /proc (test/integration/procfs-writes.test.ts).
    const msg = refused((c) => {
      c.mounts = c.mounts.map((m: any) => (m.destination === "/proc" ? { destination: "/proc", type: "tmpfs", source: "tmpfs", options: [] } : m));
      c.linux.maskedPaths = [];
      c.linux.readonlyPaths = [];
      c.linux.sysctl = { "kernel.shmmax": "1" };
    });
    expect(msg).toMatch(/^tsrun: config.json \/mounts\/0: a tmpfs on \/proc: only a procfs may be mounted there/);
  });
});

describe("personality, scheduler, I/O priority, CPU affinity", () => {
  test("linux.personality LINUX32: uname -m says i686; LINUX keeps x86_64", () => {
    expect(inside("uname -m; cat /proc/self/personality", (c) => (c.linux.personality = { domain: "LINUX32" }))).toBe("i686\n00000008\n");
    expect(inside("uname -m; cat /proc/self/personality", (c) => (c.linux.personality = { domain: "LINUX" }))).toBe("x86_64\n00000000\n");
  });

  /** Fields 18 (priority), 19 (nice), 40 (rt_priority), 41 (policy) of the shell's own stat, read with builtins (no fork). */
  const STAT = 'read -r l < /proc/self/stat; set -- ${l#*) }; shift 15; p=$1 n=$2; shift 22; echo "prio=$p nice=$n rt=$1 policy=$2"';

  test.each([
    [{ policy: "SCHED_BATCH", nice: 5 }, "prio=25 nice=5 rt=0 policy=3"],
    [{ policy: "SCHED_IDLE" }, "prio=20 nice=0 rt=0 policy=5"],
    [{ policy: "SCHED_OTHER", nice: -5 }, "prio=15 nice=-5 rt=0 policy=0"],
  ])("process.scheduler %j", (sched, want) => {
    expect(inside(STAT, (c) => (c.process.scheduler = sched)).trim()).toBe(want);
  });

  test("SCHED_DEADLINE with its runtime, deadline, period and flags (sched_getattr of the process itself)", () => {
    const b = s.bundle((c) => {
      c.process.args = ["/mnt/probe", "sched"];
      c.process.scheduler = { policy: "SCHED_DEADLINE", runtime: 10_000_000, deadline: 20_000_000, period: 30_000_000, flags: ["SCHED_FLAG_RESET_ON_FORK"] };
      c.mounts.push(probeMount());
    });
    const r = s.tsrun(["run", "--bundle", b, s.id("dl")]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("policy=6 flags=0x1 nice=0 priority=0 runtime=10000000 deadline=20000000 period=30000000\n");
  });

  test("a realtime policy the machine refuses (no realtime budget in the container's cgroup) is one clear line naming the field", () => {
    const id = s.id("fifo");
    const r = s.tsrun(["run", "--bundle", s.bundle((c) => (c.process.scheduler = { policy: "SCHED_FIFO", priority: 10 })), id]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/\/process\/scheduler: sched_setattr \(policy 1, .*\): Operation not permitted \(a realtime policy needs/);
  });

  test("a bad scheduler value is a ConfigError before anything is created", () => {
    expect(refused((c) => (c.process.scheduler = { policy: "SCHED_OTHER", priority: 5 }))).toContain("/process/scheduler/priority");
    expect(refused((c) => (c.process.scheduler = { policy: "SCHED_ISO" }))).toContain("/process/scheduler/policy");
  });

  test.each([
    [{ class: "IOPRIO_CLASS_BE", priority: 6 }, "2 6"],
    [{ class: "IOPRIO_CLASS_IDLE", priority: 0 }, "3 0"],
    [{ class: "IOPRIO_CLASS_RT", priority: 3 }, "1 3"],
  ])("process.ioPriority %j (ioprio_get from inside)", (io, want) => {
    expect(inside("/mnt/probe ioprio", (c) => {
      c.process.ioPriority = io;
      c.mounts.push(probeMount());
    }).trim()).toBe(want);
  });

  test("execCPUAffinity: final is the process's affinity; initial alone is kept through the cgroup join", () => {
    const grep = "grep Cpus_allowed_list /proc/self/status";
    expect(inside(grep, (c) => (c.process.execCPUAffinity = { initial: "0", final: "1" }))).toBe("Cpus_allowed_list:\t1\n");
    expect(inside(grep, (c) => (c.process.execCPUAffinity = { initial: "1", final: "0-1" }))).toBe("Cpus_allowed_list:\t0-1\n");
    expect(inside(grep, (c) => (c.process.execCPUAffinity = { initial: "1" }))).toBe("Cpus_allowed_list:\t1\n");
    expect(inside(grep, (c) => (c.process.execCPUAffinity = { initial: "0" }))).toBe("Cpus_allowed_list:\t0\n");
  });

  test("a malformed or offline CPU list is refused with its path", () => {
    expect(refused((c) => (c.process.execCPUAffinity = { final: "1-0" }))).toContain("/process/execCPUAffinity/final");
    expect(refused((c) => (c.process.execCPUAffinity = { initial: "0,x" }))).toContain("/process/execCPUAffinity/initial");
    expect(refused((c) => (c.process.execCPUAffinity = { final: "0,4000" }))).toMatch(/\/process\/execCPUAffinity\/final: CPU 4000 not online/);
  });
});

describe("session keyring", () => {
  test("a new one named _ses.<id>, searchable by its owner; --no-new-keyring keeps the caller's", () => {
    const b = s.bundle((c) => {
      c.process.args = ["/mnt/probe", "session"];
      c.mounts.push(probeMount());
    });
    // The caller (tsrun's parent here) has a session keyring of its own, "caller-ring".
    const run = (id: string, extra: string[]) =>
      spawnSync(PROBE, ["join", "caller-ring", TSRUN, "--root", s.root, "run", ...extra, "--bundle", b, id], { encoding: "utf8", env: {} });
    const id = s.id("keyring");
    const fresh = run(id, []);
    expect(fresh.stderr).toBe("");
    // keyring;uid;gid;perm;name: possessor all, user view/read/search/link (runc's | KEY_USR_SEARCH).
    expect(fresh.stdout).toMatch(new RegExp(`^\\d+ keyring;0;0;3f1b0000;_ses\\.${id}\\n$`));
    const kept = run(s.id("keyring"), ["--no-new-keyring"]);
    expect(kept.stderr).toBe("");
    expect(kept.stdout).toMatch(/^\d+ keyring;0;0;3f130000;caller-ring\n$/);
  });

  test("in a user namespace the keyring is searchable by others", () => {
    const out = inside("/mnt/probe session", (c) => {
      userns(c, [{ containerID: 0, hostID: 100000, size: 65536 }]);
      c.mounts.push(probeMount());
    });
    expect(out).toMatch(/ keyring;0;0;3f130008;_ses\./);
  });
});

/** A new user namespace with these maps (uid and gid alike), without the mounts it cannot make. */
function userns(c: any, maps: { containerID: number; hostID: number; size: number }[]): void {
  c.linux.namespaces.push({ type: "user" });
  c.linux.uidMappings = maps;
  c.linux.gidMappings = maps;
  c.mounts = c.mounts.filter((m: any) => m.type !== "sysfs" && m.type !== "cgroup");
}

describe("user namespaces beyond root-only maps", () => {
  const MAPS = [
    { containerID: 0, hostID: 100000, size: 1 },
    { containerID: 1, hostID: 200001, size: 999 },
  ];

  test("several ranges in uid_map/gid_map, setgroups allowed, additional groups work", () => {
    const out = inside("cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -G", (c) => {
      userns(c, MAPS);
      c.process.user = { uid: 5, gid: 5, additionalGids: [7, 9] };
    });
    const lines = out.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    expect(lines).toEqual(["0 100000 1", "1 200001 999", "0 100000 1", "1 200001 999", "allow", "5", "5 7 9"]);
  });

  test("files the container makes in its rootfs, and the mount targets tsrun-init makes, belong to the mapped host ids", () => {
    const rootfs = join(s.dir, "userns-rootfs");
    execFileSync("cp", ["-a", ROOTFS, rootfs]);
    // As an image unpacked for this namespace would be: its root owned by the namespace's root.
    chownSync(rootfs, 100000, 100000);
    mkdirSync(join(rootfs, "owned"));
    chownSync(join(rootfs, "owned"), 200001, 200001); // uid 1 inside
    chmodSync(join(rootfs, "owned"), 0o755);
    inside("touch /rootfile /rootfile2 && chown 1:1 /rootfile2", (c) => {
      userns(c, MAPS);
      for (const set of ["bounding", "effective", "permitted"]) c.process.capabilities[set].push("CAP_CHOWN");
      c.root = { path: rootfs, readonly: false };
      c.mounts.push({ destination: "/newmnt/deep", type: "tmpfs", source: "tmpfs", options: [] });
    });
    expect(statSync(join(rootfs, "rootfile"))).toMatchObject({ uid: 100000, gid: 100000 });
    expect(statSync(join(rootfs, "rootfile2"))).toMatchObject({ uid: 200001, gid: 200001 });
    expect(statSync(join(rootfs, "newmnt"))).toMatchObject({ uid: 100000, gid: 100000 });
    expect(statSync(join(rootfs, "newmnt/deep"))).toMatchObject({ uid: 100000, gid: 100000 });
    // A file made by uid 1 of the container, as the process itself (no chown).
    inside("touch /owned/byuid1", (c) => {
      userns(c, MAPS);
      c.root = { path: rootfs, readonly: false };
      c.process.user = { uid: 1, gid: 1 };
    });
    expect(statSync(join(rootfs, "owned/byuid1"))).toMatchObject({ uid: 200001, gid: 200001 });
  });
});

describe("LSM labels on a host without AppArmor or SELinux (this machine)", () => {
  test("apparmorProfile and selinuxLabel are refused with their path (runc 1.1 fails too)", () => {
    expect(existsSync("/sys/module/apparmor") || existsSync("/sys/fs/selinux/enforce")).toBe(false);
    expect(refused((c) => (c.process.apparmorProfile = "tsrun-test"))).toMatch(/\/process\/apparmorProfile: AppArmor is not enabled/);
    expect(refused((c) => (c.process.selinuxLabel = "system_u:system_r:container_t:s0"))).toMatch(/\/process\/selinuxLabel: SELinux is not enabled/);
  });
});

describe("escapes (CVE-2019-5736 / CVE-2024-21626 classes)", () => {
  test("no host fd and no host cwd reach the process", () => {
    // The process's own fds, listed by itself once the shell has exec'd ls (a shell's own list would
    // show its pipes and saved fds): the caller's stdio 0-2, and 3, the directory ls reads. A host fd
    // kept by the process would show up as one more.
    const out = inside("readlink /proc/self/cwd; exec ls /proc/self/fd", (c) => (c.process.cwd = "/tmp"));
    expect(out).toBe("/tmp\n0\n1\n2\n3\n");
  });

  test("a cwd of /proc/self/fd/N cannot reach a directory tsrun-init holds or the caller passed: create fails, naming it", () => {
    for (let n = 3; n <= 8; n++) {
      const id = s.id("cwdfd");
      const r = s.tsrun(["create", "--bundle", s.bundle((c) => (c.process.cwd = `/proc/self/fd/${n}`)), id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`chdir /proc/self/fd/${n}: `);
      expect(s.tsrun(["state", id]).stderr).toContain("does not exist");
    }
    // Even a host directory the caller passes on purpose (--preserve-fds) is not a way out as cwd.
    const dirFd = openSync(s.dir, "r");
    try {
      const id = s.id("cwdpreserved");
      const b = s.bundle((c) => {
        c.process.cwd = "/proc/self/fd/3";
        c.process.args = ["sh", "-c", "ls /; pwd"];
      });
      const r = s.tsrun(["run", "--preserve-fds", "1", "--bundle", b, id], { stdio: ["ignore", "ignore", "ignore", dirFd] } as any);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("tsrun: chdir /proc/self/fd/3: a /proc magic link or a symlink loop (refused)\n");
    } finally {
      closeSync(dirFd);
    }
  });

  test("a created container's init (tsrun-init, waiting for start) cannot be read or reached through /proc/1/exe", () => {
    const a = s.id("victim");
    expect(s.tsrun(["create", "--bundle", s.bundle((c) => (c.process.args = ["sh", "-c", "echo started"])), a]).status).toBe(0);
    const pid = s.state(a).pid;
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toContain("tsrun-init");
    // A second container in the first one's pid namespace, as root with the default capabilities
    // (no CAP_SYS_PTRACE), with its own /proc of that namespace: pid 1 there is the waiting init.
    const out = inside(
      [
        "cat /proc/1/cmdline | tr '\\0' ' '; echo",
        "readlink /proc/1/exe >/dev/null 2>&1 && echo exe-link-readable || echo exe-link-denied",
        "cat /proc/1/exe >/dev/null 2>&1 && echo exe-readable || echo exe-denied",
        "(echo x >> /proc/1/exe) 2>/dev/null && echo exe-writable || echo exe-not-writable",
        "for f in /proc/1/fd/*; do readlink $f || cat $f; done >/dev/null 2>&1 && echo fds-reachable || echo fds-denied",
        "cat /proc/1/environ >/dev/null 2>&1 && echo environ-readable || echo environ-denied",
        "ls /proc/1/root/ >/dev/null 2>&1 && echo root-reachable || echo root-denied",
      ].join("; "),
      (c) => {
        c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === "pid" ? { type: "pid", path: `/proc/${pid}/ns/pid` } : n));
      },
    );
    expect(out.split("\n")).toEqual([
      expect.stringContaining("tsrun-init init"),
      "exe-link-denied",
      "exe-denied",
      "exe-not-writable",
      "fds-denied",
      "environ-denied",
      "root-denied",
      "",
    ]);
    // The same from a container in the host's pid namespace (no pid namespace of its own), which
    // sees the init under its host pid, and its own stage 0 of `run` too.
    const probes = (p: string) =>
      [
        `readlink /proc/${p}/exe >/dev/null 2>&1 && echo exe-link-readable || echo exe-link-denied`,
        `cat /proc/${p}/exe >/dev/null 2>&1 && echo exe-readable || echo exe-denied`,
        `for f in /proc/${p}/fd/*; do readlink $f || cat $f; done >/dev/null 2>&1 && echo fds-reachable || echo fds-denied`,
      ].join("; ");
    const hostPidns = inside(`${probes(String(pid))}; ${probes("$PPID")}; tr '\\0' ' ' < /proc/$PPID/cmdline; echo`, (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "pid");
    });
    expect(hostPidns.split("\n")).toEqual([
      ...["exe-link-denied", "exe-denied", "fds-denied"],
      ...["exe-link-denied", "exe-denied", "fds-denied"],
      expect.stringMatching(/tsrun-init init /),
      "",
    ]);
    // The victim is intact and still starts.
    expect(s.tsrun(["start", a]).status).toBe(0);
    expect(readdirSync(s.root)).toContain(a);
    expect(s.tsrun(["delete", "--force", a]).status).toBe(0);
  });
});
