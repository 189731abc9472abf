// What the process sees from inside: namespaces (new and joined), the root filesystem, /dev, the
// process's user, groups, umask, cwd, env, hostname, fds; checked with the busybox tools.
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Scratch, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

/** `tsrun run` of a shell script with config edits; returns stdout, failing the test on a bad exit. */
function inside(script: string, edit: (c: any) => void = () => {}, opts: Parameters<Scratch["tsrun"]>[1] = {}): string {
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    edit(c);
  });
  const r = s.tsrun(["run", "--bundle", b, s.id("in"), ...((opts as any).extra ?? [])], opts);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

test("PID 1 in its own pid namespace, seeing only its own processes", () => {
  const out = inside("echo $$; ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '");
  const [pid, pids] = out.trim().split("\n");
  expect(pid).toBe("1");
  // The shell and its pipeline (ls, grep, tr): a handful of small pids, none of the host's.
  expect(pids.trim().split(" ").map(Number).every((p) => p >= 1 && p <= 10)).toBe(true);
});

test("hostname and domainname in a uts namespace; the host's are unchanged", () => {
  const before = readFileSync("/proc/sys/kernel/hostname", "utf8");
  const out = inside("hostname; cat /proc/sys/kernel/domainname", (c) => {
    c.hostname = "box1";
    c.domainname = "example.test";
  });
  expect(out).toBe("box1\nexample.test\n");
  expect(readFileSync("/proc/sys/kernel/hostname", "utf8")).toBe(before);
});

test("the mount table is the container's own: rootfs at /, the default mounts, nothing of the host", () => {
  const out = inside("cat /proc/self/mountinfo");
  const points = out.trim().split("\n").map((l) => l.split(" ")[4]);
  expect(points[0]).toBe("/");
  for (const p of ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]) expect(points).toContain(p);
  expect(points.some((p) => p.startsWith("/work") || p.startsWith("/tmp/tsrun-test"))).toBe(false);
});

test("root.readonly makes / read-only; without it the rootfs is writable", () => {
  expect(inside("touch /x 2>&1; echo $?")).toMatch(/Read-only file system\n1\n$/);
});

test("/dev has the standard devices and links", () => {
  const out = inside("ls -l /dev | sed 's/  */ /g'; echo hi > /dev/null && head -c 4 /dev/zero | wc -c; test -c /dev/pts/ptmx && echo ptmx");
  for (const d of ["null", "zero", "full", "random", "urandom", "tty"]) expect(out).toMatch(new RegExp(`^c.* ${d}$`, "m"));
  for (const l of ["fd -> /proc/self/fd", "stdin -> /proc/self/fd/0", "stdout -> /proc/self/fd/1", "stderr -> /proc/self/fd/2", "ptmx -> pts/ptmx"]) {
    expect(out).toContain(l);
  }
  expect(out).toMatch(/^4\nptmx$/m);
});

test("user, additional groups, umask, cwd and env come from the config", () => {
  const out = inside("id -u; id -g; id -G; umask; pwd; echo $FOO; echo $HOME", (c) => {
    c.process.user = { uid: 1000, gid: 1000, additionalGids: [5, 20], umask: 0o027 };
    c.process.cwd = "/tmp";
    c.process.env.push("FOO=bar");
  });
  expect(out.split("\n").slice(0, 7)).toEqual(["1000", "1000", "1000 5 20", "0027", "/tmp", "bar", expect.stringMatching(/^\//)]);
});

test("capabilities: the process has exactly the configured sets", () => {
  const out = inside("grep -E '^Cap(Eff|Prm|Bnd|Inh)' /proc/self/status", (c) => {
    c.process.capabilities = { bounding: ["CAP_KILL", "CAP_CHOWN"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"], inheritable: [] };
  });
  // CAP_CHOWN is bit 0, CAP_KILL bit 5.
  expect(out).toMatch(/CapInh:\s+0000000000000000/);
  expect(out).toMatch(/CapPrm:\s+0000000000000020/);
  expect(out).toMatch(/CapEff:\s+0000000000000020/);
  expect(out).toMatch(/CapBnd:\s+0000000000000021/);
});

test("noNewPrivileges and rlimits are applied", () => {
  const out = inside("grep NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn", (c) => {
    c.process.noNewPrivileges = true;
    c.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 123, hard: 456 }];
  });
  expect(out).toMatch(/NoNewPrivs:\s+1\n123\n456\n/);
});

test("a user namespace: uid 0 inside is the mapped host uid outside", () => {
  const out = inside("id -u; cat /proc/self/uid_map; touch /tmp/f; stat -c %u /tmp/f", (c) => {
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: [] });
    // sysfs and cgroup mounts need privileges over the host's network/cgroup: drop them for this case.
    c.mounts = c.mounts.filter((m: any) => m.type !== "sysfs" && m.type !== "cgroup");
  });
  const lines = out.split("\n");
  expect(lines[0]).toBe("0");
  expect(lines[1].trim().split(/\s+/)).toEqual(["0", "100000", "65536"]);
  expect(lines[2]).toBe("0");
});

test("network namespace: only lo, and it is up", () => {
  const out = inside("ip -o link; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok", (c) => {
    for (const set of ["bounding", "effective", "permitted"]) c.process.capabilities[set].push("CAP_NET_RAW");
  });
  const links = out.split("\n").filter((l) => /^\d+:/.test(l));
  expect(links).toHaveLength(1);
  expect(links[0]).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
  expect(out).toContain("ping-ok");
});

test("cgroup namespace: the container sees its own cgroup as /", () => {
  const out = inside("cat /proc/self/cgroup");
  for (const line of out.trim().split("\n")) expect(line).toMatch(/:\/$/);
});

test("time namespace with timeOffsets shifts the monotonic and boot clocks", () => {
  const out = inside("cut -d' ' -f1 /proc/uptime", (c) => {
    c.linux.namespaces.push({ type: "time" });
    c.linux.timeOffsets = { boottime: { secs: 86400 * 10 }, monotonic: { secs: 86400 * 10 } };
  });
  const hostUptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  expect(Number(out.trim())).toBeGreaterThanOrEqual(hostUptime + 86400 * 10 - 5);
});

test("ipc namespace is private", () => {
  const out = inside("readlink /proc/self/ns/ipc");
  expect(out.trim()).toMatch(/^ipc:\[\d+\]$/);
  expect(out.trim()).not.toBe(readlinkSync("/proc/self/ns/ipc"));
});

test("namespaces given by path are joined: a second container shares the first one's uts and network", () => {
  const a = s.id("nsA");
  const ba = s.bundle((c) => {
    c.hostname = "shared-host";
    c.process.args = ["sh", "-c", "while true; do sleep 0.05; done"];
  });
  expect(s.tsrun(["run", "--detach", "--bundle", ba, a]).status).toBe(0);
  const pid = s.state(a).pid;
  const out = inside("hostname; readlink /proc/self/ns/net", (c) => {
    delete c.hostname;
    c.linux.namespaces = c.linux.namespaces.map((n: any) =>
      n.type === "uts" || n.type === "network" ? { type: n.type, path: `/proc/${pid}/ns/${n.type === "network" ? "net" : "uts"}` } : n,
    );
  });
  const [host, net] = out.trim().split("\n");
  expect(host).toBe("shared-host");
  expect(net).toBe(readlinkSync(`/proc/${pid}/ns/net`));
  expect(s.tsrun(["delete", "--force", a]).status).toBe(0);
});

test("--no-pivot builds the same root with move + chroot", () => {
  const b = s.bundle((c) => (c.process.args = ["sh", "-c", "echo $$; ls /bin/busybox"]));
  const r = s.tsrun(["run", "--no-pivot", "--bundle", b, s.id("nopivot")]);
  expect(r.status).toBe(0);
  expect(r.stdout).toBe("1\n/bin/busybox\n");
});

test("a relative root.path is taken from the bundle directory", () => {
  const r = s.tsrun(["run", "--bundle", join(new URL(".", import.meta.url).pathname, "../../bundles/busybox"), s.id("rel")]);
  expect(r.status).toBe(0);
});

test("fds above 2 are closed, except --preserve-fds N", () => {
  const f = join(s.dir, "fd3");
  writeFileSync(f, "from-fd-3");
  const fd = openSync(f, "r");
  const fd4 = openSync(f, "r");
  try {
    const b = s.bundle((c) => (c.process.args = ["sh", "-c", "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '"]));
    const stdio = ["ignore", "ignore", "ignore", fd, fd4];
    const keep = s.tsrun(["run", "--preserve-fds", "1", "--bundle", b, s.id("fds")], { stdio } as any);
    expect(keep.stderr).toBe("");
    // fd 3 is passed; fd 4 is not; ls itself opens one more fd (3 or 4) to read the directory.
    expect(keep.stdout).toMatch(/^from-fd-3(0 1 2 3 4 |0 1 2 3 )$/);
    const none = s.tsrun(["run", "--bundle", s.bundle((c) => (c.process.args = ["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"])), s.id("nofds")], { stdio } as any);
    expect(none.stdout).toBe("0 1 2 3 ");
  } finally {
    closeSync(fd);
    closeSync(fd4);
  }
});

test("tsrun runs with no PATH and no HOME in its environment", () => {
  // Scratch.tsrun always passes an empty environment; prove the container still finds its programs.
  expect(inside("echo ok")).toBe("ok\n");
});

test("socket-activated fds (LISTEN_FDS) are passed on like --preserve-fds", () => {
  const f = join(s.dir, "listen");
  writeFileSync(f, "activated");
  const fd = openSync(f, "r");
  try {
    const b = s.bundle((c) => (c.process.args = ["sh", "-c", "cat <&3"]));
    const r = s.tsrun(["run", "--bundle", b, s.id("listen")], { stdio: ["ignore", "ignore", "ignore", fd], env: { LISTEN_FDS: "1" } } as any);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("activated");
  } finally {
    closeSync(fd);
  }
});

test("rootfsPropagation sets the propagation of the container's /", () => {
  const shared = inside("grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo", (c) => (c.linux.rootfsPropagation = "shared"));
  expect(shared).toMatch(/ shared:\d+/);
  const priv = inside("grep -E '^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / ' /proc/self/mountinfo", (c) => (c.linux.rootfsPropagation = "private"));
  expect(priv).not.toMatch(/shared:|master:/);
});

test("linux.devices: character, block and fifo nodes with their numbers, mode and owner, next to the defaults", () => {
  const out = inside("stat -c '%n %F %t:%T %a %u:%g' /dev/mychar /dev/myblock /dev/myfifo /dev/null", (c) => {
    c.linux.devices = [
      { path: "/dev/mychar", type: "c", major: 1, minor: 7, fileMode: 0o640, uid: 1000, gid: 1000 },
      { path: "/dev/myblock", type: "b", major: 7, minor: 0, fileMode: 0o600, uid: 0, gid: 6 },
      { path: "/dev/myfifo", type: "p", fileMode: 0o620 },
    ];
  });
  // stat prints major:minor in hex.
  expect(out).toBe(
    [
      "/dev/mychar character special file 1:7 640 1000:1000",
      "/dev/myblock block special file 7:0 600 0:6",
      "/dev/myfifo fifo 0:0 620 0:0",
      "/dev/null character special file 1:3 666 0:0",
      "",
    ].join("\n"),
  );
});

test("in a user namespace, devices are bound from the host's nodes", () => {
  const out = inside("stat -c '%n %t:%T' /dev/null /dev/zero; echo x > /dev/null && echo null-works", (c) => {
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.mounts = c.mounts.filter((m: any) => m.type !== "sysfs" && m.type !== "cgroup");
  });
  expect(out).toBe("/dev/null 1:3\n/dev/zero 1:5\nnull-works\n");
});
