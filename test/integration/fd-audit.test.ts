// The fd audit (issue 18): every fd a created container's init holds while it waits for `start`, and every
// fd of a process at its execve, is on an allow-list, and anything else fails the test by name:
//
//   created init   0-2 (create's stdio, or the pty slave), the preserved fds 3..3+N-1 (the caller's own
//                  files), the exec fifo (<root>/<id>/exec.fifo: the O_PATH fd that WAIT_FIFO reopens)
//   at execve      0-2, the preserved fds; `ls -l /proc/self/fd` is the process, so the directory fd
//                  ls opened to list them is accounted for: the lowest free number, listed without a
//                  target (busybox closes it before it reads the links)
//
// A socket to tsrun, the plan or sync channel, a namespace, cgroup, rootfs or /proc handle, a console
// master, a seccomp listener or notify fd, or an fd of the caller's that was not preserved is a leak.
// Each setting that makes tsrun-init open something is tried: a terminal with --console-socket, a user
// namespace, layers (overlay), tsrun.network (veth), a seccomp listener, `run -d`, exec with and without
// a pty, and the flags managers pass. runc 1.1.5 is held to the same list where the same config runs:
// what it holds besides is printed, never allowed to tsrun.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Runc } from "../helpers/runc.js";
import { ROOTFS, Scratch, TOP, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
const runc = new Runc(s.dir);
const LS_FDS = ["ls", "-l", "/proc/self/fd"];
const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p))!;
const NSENTER = ["/usr/bin/nsenter", "/usr/sbin/nsenter", "/bin/nsenter"].find((p) => existsSync(p))!;
const TTY_PY = join(TOP, "test/helpers/terminal-peer.py");
const NETNS = `tsrun-fda${process.pid}`;
let netnsMade = false;

beforeAll(() => {
  ensureBuilt();
  runc.require();
});
afterAll(() => {
  if (netnsMade) for (const id of s.ids) nsTsrun(["delete", "--force", id]);
  if (netnsMade) spawnSync(IP, ["netns", "del", NETNS]);
  const leaks = s.cleanup();
  runc.cleanup();
  expect(leaks).toEqual([]);
});

interface Fd {
  fd: number;
  target: string;
}

/** The fds of a process as the host sees them (root reads a non-dumpable process's fds too). */
function fdsOf(pid: number): Fd[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map((n) => {
      try {
        return { fd: Number(n), target: readlinkSync(`/proc/${pid}/fd/${n}`) };
      } catch {
        return undefined; // closed while we looked
      }
    })
    .filter((f): f is Fd => f !== undefined)
    .sort((a, b) => a.fd - b.fd);
}

interface InitAllow {
  /** What 0, 1 and 2 are: create's stdio (exact paths) or a pattern (the pty slave). */
  stdio: (string | RegExp)[];
  /** The targets of fds 3..3+N-1, in order. */
  preserved: string[];
  /** <root>/<id>/exec.fifo */
  fifo: string;
}

const matches = (want: string | RegExp, got: string) => (typeof want === "string" ? want === got : want.test(got));

/** What of a created init's fds is off the allow-list, or missing from it (one line each, naming the fd). */
function auditInit(fds: Fd[], allow: InitAllow): string[] {
  const bad: string[] = [];
  const expected = [...allow.stdio, ...allow.preserved];
  let fifos = 0;
  for (const { fd, target } of fds) {
    if (fd < expected.length) {
      if (!matches(expected[fd]!, target)) bad.push(`fd ${fd} -> ${target} (expected ${expected[fd]})`);
    } else if (target === allow.fifo && fifos++ === 0) {
      // the exec fifo (O_PATH), once
    } else bad.push(`fd ${fd} -> ${target}`);
  }
  for (let fd = 0; fd < expected.length; fd++) if (!fds.some((f) => f.fd === fd)) bad.push(`fd ${fd} missing (expected ${expected[fd]})`);
  if (!fifos) bad.push(`the exec fifo ${allow.fifo} is not held`);
  return bad;
}

/** `ls -l /proc/self/fd` output (busybox) as fds. */
function parseLs(out: string): Fd[] {
  return out
    .replace(/\r\n/g, "\n")
    .split("\n")
    .map((l) => /^l\S+ .* (\d+)(?: -> (.*))?$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ fd: Number(m[1]), target: m[2] ?? "" }));
}

/** What of a process's fds at execve (listed by `ls -l /proc/self/fd`) is off the allow-list, or missing. */
function auditExecve(lsOutput: string, preserved: number, stdio: RegExp[] = []): string[] {
  const fds = parseLs(lsOutput);
  const bad: string[] = [];
  if (!fds.length) return [`no fd listed in ${JSON.stringify(lsOutput)}`];
  let lsDir = 0;
  for (const { fd, target } of fds) {
    if (fd < 3 + preserved) {
      if (fd < 3 && stdio[fd] && !stdio[fd]!.test(target)) bad.push(`fd ${fd} -> ${target} (expected ${stdio[fd]})`);
    } else if (fd === 3 + preserved && target === "" && lsDir++ === 0) {
      // ls's own directory fd, the lowest free number (closed before ls reads the links: no target)
    } else bad.push(`fd ${fd} -> ${target}`);
  }
  for (let fd = 0; fd < 3 + preserved; fd++) if (!fds.some((f) => f.fd === fd)) bad.push(`fd ${fd} missing`);
  if (!lsDir) bad.push("ls's own directory fd is not listed: the listing is not of the process itself");
  return bad;
}

/** Files the test passes as fds 3, 4, ... (their paths, and the fds, to close). */
function passedFiles(n: number, tag: string): { paths: string[]; fds: number[] } {
  const paths = Array.from({ length: n }, (_, i) => join(s.dir, `${tag}-passed-${i}`));
  paths.forEach((p) => writeFileSync(p, p));
  return { paths, fds: paths.map((p) => openSync(p, "r")) };
}

const fifoOf = (root: string, id: string) => join(root, id, "exec.fifo");
const stdioOf = (r: { outFile: string; errFile: string }) => ["/dev/null", r.outFile, r.errFile];

function stopped(id: string, sc: (args: string[]) => { stdout: string } = (a) => s.tsrun(a)): void {
  waitFor(() => (JSON.parse(sc(["state", id]).stdout).status === "stopped" ? true : undefined), 10_000);
}

/** A bundle whose process lists its own fds (`ls -l /proc/self/fd`). */
const lsBundle = (edit: (c: any) => void = () => {}) =>
  s.bundle((c) => {
    c.process.args = LS_FDS;
    edit(c);
  });

const USERNS = (c: any) => {
  c.linux.namespaces.push({ type: "user" });
  c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  c.mounts = c.mounts.filter((m: any) => m.type !== "sysfs" && m.type !== "cgroup");
};
const LAYERED = join(TOP, "bundles/layered");

/**
 * create (with `extra` flags and the caller's fds), audit the waiting init, start, audit the process at
 * execve from its own listing (create's stdout file), delete. `preserve` of the `pass` fds are preserved.
 */
function createAndAudit(name: string, b: string, opts: { flags?: string[]; preserve?: number; pass?: number } = {}): { init: string[]; execve: string[] } {
  const preserve = opts.preserve ?? 0;
  const files = passedFiles(opts.pass ?? preserve, name);
  const id = s.id(name);
  try {
    const flags = [...(opts.flags ?? []), ...(preserve ? ["--preserve-fds", String(preserve)] : [])];
    const r = s.tsrun(["create", ...flags, "--bundle", b, id], { stdio: ["ignore", "ignore", "ignore", ...files.fds] } as any);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const init = auditInit(fdsOf(s.state(id).pid), { stdio: stdioOf(r), preserved: files.paths.slice(0, preserve), fifo: fifoOf(s.root, id) });
    expect(s.tsrun(["start", id]).status).toBe(0);
    stopped(id);
    const execve = auditExecve(readFileSync(r.outFile, "utf8"), preserve);
    expect(s.tsrun(["delete", id]).status).toBe(0);
    return { init, execve };
  } finally {
    files.fds.forEach(closeSync);
  }
}

describe("a created container's init holds stdio, the preserved fds and the exec fifo, nothing else", () => {
  test("a plain container: 0-2 are create's stdio, the fifo is <root>/<id>/exec.fifo; at execve only 0-2", () => {
    expect(createAndAudit("plain", lsBundle())).toEqual({ init: [], execve: [] });
  });

  test("--preserve-fds 2 with six fds of the caller's: only 3 and 4 reach the init and the process", () => {
    expect(createAndAudit("preserve", lsBundle(), { preserve: 2, pass: 6 })).toEqual({ init: [], execve: [] });
  });

  test("fds of the caller's that are not preserved (no --preserve-fds) reach neither", () => {
    expect(createAndAudit("callerfds", lsBundle(), { pass: 6 })).toEqual({ init: [], execve: [] });
  });

  test("with a user namespace and a bind mount (its source opened by stage 0 and sent over a socketpair)", () => {
    const src = join(s.dir, "userns-bind");
    mkdirSync(src);
    const b = lsBundle((c) => {
      USERNS(c);
      c.mounts.push({ destination: "/mnt", type: "bind", source: src, options: ["rbind", "ro"] });
    });
    expect(createAndAudit("userns", b, { preserve: 1, pass: 3 })).toEqual({ init: [], execve: [] });
  });

  test("with idmapped bind mounts (stage 0 clones and idmaps them through a user namespace it makes, then sends them)", () => {
    const src = join(s.dir, "idmap-bind");
    mkdirSync(src);
    const b = lsBundle((c) => {
      USERNS(c);
      c.mounts.push({ destination: "/mnt", type: "bind", source: src, options: ["rbind", "ridmap"] });
      c.mounts.push({ destination: "/srv", type: "bind", source: src, options: ["bind"], uidMappings: [{ containerID: 0, hostID: 100000, size: 10 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 10 }] });
    });
    expect(createAndAudit("idmap", b, { preserve: 1, pass: 3 })).toEqual({ init: [], execve: [] });
  });

  test("with a tmpfs copy-up (tmpcopyup), --no-pivot and the caller's session keyring kept", () => {
    const b = lsBundle((c) => c.mounts.push({ destination: "/etc", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"] }));
    expect(createAndAudit("copyup", b, { flags: ["--no-pivot", "--no-new-keyring"], preserve: 1, pass: 3 })).toEqual({ init: [], execve: [] });
  });

  test("with layers (the overlay built by tsrun-init)", () => {
    const b = lsBundle((c) => {
      c.root = { path: "rootfs", readonly: false };
      c.tsrun = { layers: [join(LAYERED, "layers/base"), join(LAYERED, "layers/app")] };
    });
    mkdirSync(join(b, "rootfs"));
    expect(createAndAudit("layers", b, { preserve: 1, pass: 3 })).toEqual({ init: [], execve: [] });
  });

  test("with layers idmapped (tsrun.idmapLayers: stage 0 makes the overlay of cloned, idmapped layers and sends it)", () => {
    const b = lsBundle((c) => {
      USERNS(c);
      c.root = { path: join(LAYERED, "rootfs"), readonly: false };
      c.tsrun = { layers: [join(LAYERED, "layers/base"), join(LAYERED, "layers/app")], idmapLayers: true };
    });
    expect(createAndAudit("idmaplayers", b, { preserve: 1, pass: 3 })).toEqual({ init: [], execve: [] });
  });

  test("with the flags managers pass (--pid-file, --log, --log-format json)", () => {
    const flags = ["--pid-file", join(s.dir, "mgr.pid")];
    const b = lsBundle();
    const id = s.id("mgr");
    const log = join(s.dir, "mgr.log");
    const r = s.tsrun(["create", ...flags, "--bundle", b, id], { global: ["--log", log, "--log-format", "json"] });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const pid = Number(readFileSync(join(s.dir, "mgr.pid"), "utf8"));
    expect(auditInit(fdsOf(pid), { stdio: stdioOf(r), preserved: [], fifo: fifoOf(s.root, id) })).toEqual([]);
    expect(s.tsrun(["start", id], { global: ["--log", log, "--log-format", "json"] }).status).toBe(0);
    stopped(id);
    expect(auditExecve(readFileSync(r.outFile, "utf8"), 0)).toEqual([]);
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });

  test("with a seccomp listener: neither the listener's socket nor the notify fd stays", async () => {
    const bin = join(s.dir, "seccomp-listener");
    execFileSync("gcc", ["-Wall", "-Wextra", "-Werror", "-o", bin, join(TOP, "test/fixtures/seccomp-listener.c")]);
    const sock = join(s.dir, "listener.sock");
    const listener = spawn(bin, [sock, "1"], { stdio: ["pipe", "pipe", "pipe"] }) as ChildProcessWithoutNullStreams;
    let out = "";
    listener.stdout.on("data", (d) => (out += d));
    try {
      await until(() => existsSync(sock));
      const b = lsBundle((c) => {
        c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: sock, syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] };
      });
      expect(createAndAudit("seccomp", b, { preserve: 1, pass: 2 })).toEqual({ init: [], execve: [] });
      await until(() => out.includes("state "));
    } finally {
      listener.kill("SIGKILL");
    }
  });

  test("createContainer and startContainer hooks at their execve: 0-2 alone, the preserved fds not passed", () => {
    const out = join(s.dir, "hookout");
    mkdirSync(out);
    const hostBusybox = join(ROOTFS, "bin/busybox");
    // createContainer: in the container's namespaces, cwd the rootfs, host paths still seen; startContainer: in the container.
    const hook = (bb: string, file: string) => ({ path: bb, args: ["sh", "-c", `exec ${bb} ls -l /proc/self/fd > ${file}`] });
    const b = lsBundle((c) => {
      c.mounts.push({ destination: "/mnt", type: "bind", source: out, options: ["rbind", "rw"] });
      c.hooks = { createContainer: [hook(hostBusybox, "mnt/create.txt")], startContainer: [hook("/bin/busybox", "/mnt/start.txt")] };
    });
    expect(createAndAudit("hooks", b, { preserve: 2, pass: 4 })).toEqual({ init: [], execve: [] });
    expect(auditExecve(readFileSync(join(out, "create.txt"), "utf8"), 0)).toEqual([]);
    expect(auditExecve(readFileSync(join(out, "start.txt"), "utf8"), 0)).toEqual([]);
  });

  test("with process.terminal and --console-socket: 0-2 are the pty slave; no master, no socket", async () => {
    const sock = join(s.dir, "console.sock");
    const peer = receiver(sock, [["expect", "END", 20], ["eof", 10]]);
    await peer.listening;
    const id = s.id("tty");
    const b = s.bundle((c) => {
      c.process.terminal = true;
      c.process.args = ["sh", "-c", "ls -l /proc/self/fd; echo END"];
    });
    const files = passedFiles(3, "tty");
    try {
      const r = s.tsrun(["create", "--console-socket", sock, "--preserve-fds", "1", "--bundle", b, id], { stdio: ["ignore", "ignore", "ignore", ...files.fds] } as any);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const pts = /^\/dev\/pts\/\d+$/;
      expect(auditInit(fdsOf(s.state(id).pid), { stdio: [pts, pts, pts], preserved: files.paths.slice(0, 1), fifo: fifoOf(s.root, id) })).toEqual([]);
      expect(s.tsrun(["start", id]).status).toBe(0);
      const got = await peer.done;
      expect(got.error).toBeUndefined();
      // `ls` under sh here (a pty's output is only seen until the last process closes it).
      expect(auditExecve(got.transcript, 1, [pts, pts, pts])).toEqual([]);
      stopped(id);
      expect(s.tsrun(["delete", id]).status).toBe(0);
    } finally {
      files.fds.forEach(closeSync);
    }
  });
});

describe("tsrun as a library in a Node program (dist/index.js)", () => {
  test("fds the program inherited (not close-on-exec: node's spawn passes them on) reach neither the init nor the process", () => {
    const dist = join(TOP, "dist/index.js");
    if (!existsSync(dist)) expect(spawnSync(process.execPath, [join(TOP, "src/build/build.mjs")], { stdio: "inherit" }).status).toBe(0);
    const id = s.id("lib");
    const files = passedFiles(1, "lib");
    const out = join(s.dir, "lib.out");
    const err = join(s.dir, "lib.err");
    const o = openSync(out, "w");
    const e = openSync(err, "w");
    const script = [
      `const { makeContext, createContainer } = await import(${JSON.stringify(dist)});`,
      `const c = await createContainer(makeContext(${JSON.stringify(s.root)}), { id: ${JSON.stringify(id)}, bundle: ${JSON.stringify(lsBundle())} });`,
      "process.stderr.write(`pid ${c.record.pid}\\n`);",
    ].join("\n");
    try {
      // The program's fd 30: a file it inherited, as a program started by a shell or a service manager has them.
      const stdio: unknown[] = ["ignore", o, e, ...Array(27).fill("ignore"), files.fds[0]!];
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { stdio: stdio as any, env: { TSRUN_INIT: join(TOP, "bin/tsrun-init") }, timeout: 30_000 });
      const log = readFileSync(err, "utf8");
      expect(r.status).toBe(0);
      const pid = Number(/^pid (\d+)$/m.exec(log)?.[1]);
      expect(pid).toBeGreaterThan(0);
      expect(auditInit(fdsOf(pid), { stdio: ["/dev/null", out, err], preserved: [], fifo: fifoOf(s.root, id) })).toEqual([]);
      expect(s.tsrun(["start", id]).status).toBe(0);
      stopped(id);
      expect(auditExecve(readFileSync(out, "utf8"), 0)).toEqual([]);
      expect(s.tsrun(["delete", id]).status).toBe(0);
    } finally {
      closeSync(o);
      closeSync(e);
      files.fds.forEach(closeSync);
    }
  });
});

describe("tsrun.network (a veth), inside a network namespace of the test's own", () => {
  test("the init holds no netlink socket or namespace handle", () => {
    spawnSync(IP, ["netns", "add", NETNS]);
    netnsMade = existsSync(`/run/netns/${NETNS}`);
    expect(netnsMade).toBe(true);
    const b = lsBundle((c) => {
      c.tsrun = { network: { bridge: "tsbrfd0", subnet: "10.79.0.0/16", gateway: "10.79.0.1", interfaces: [{ name: "eth0", addresses: ["10.79.0.10/16"] }] } };
    });
    const id = s.id("net");
    const r = nsTsrun(["create", "--bundle", b, id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const pid = JSON.parse(nsTsrun(["state", id]).stdout).pid;
    expect(auditInit(fdsOf(pid), { stdio: stdioOf(r), preserved: [], fifo: fifoOf(s.root, id) })).toEqual([]);
    expect(nsTsrun(["start", id]).status).toBe(0);
    stopped(id, nsTsrun);
    expect(auditExecve(readFileSync(r.outFile, "utf8"), 0)).toEqual([]);
    expect(nsTsrun(["delete", id]).status).toBe(0);
  });
});

describe("a process that tsrun exec starts holds, at execve, 0-2 and the preserved fds alone", () => {
  let main: string;
  beforeAll(() => {
    main = s.id("exec");
    const r = s.tsrun(["run", "-d", "--bundle", s.bundle((c) => (c.process.args = ["sleep", "1000"])), main]);
    expect(r.status).toBe(0);
  });
  afterAll(() => {
    s.tsrun(["delete", "--force", main]);
  });

  test("exec, and exec --preserve-fds 1 with three fds of the caller's", () => {
    const plain = s.tsrun(["exec", main, ...LS_FDS]);
    expect(plain.status).toBe(0);
    expect(auditExecve(plain.stdout, 0)).toEqual([]);
    const files = passedFiles(3, "exec");
    try {
      const r = s.tsrun(["exec", "--preserve-fds", "1", main, ...LS_FDS], { stdio: ["ignore", "ignore", "ignore", ...files.fds] } as any);
      expect(r.status).toBe(0);
      expect(auditExecve(r.stdout, 1)).toEqual([]);
    } finally {
      files.fds.forEach(closeSync);
    }
  });

  test("exec --tty --detach --console-socket: 0-2 are the pty slave", async () => {
    const sock = join(s.dir, "exec-console.sock");
    const peer = receiver(sock, [["expect", "END", 20], ["eof", 10]]);
    await peer.listening;
    const r = s.tsrun(["exec", "--tty", "--detach", "--console-socket", sock, main, "sh", "-c", "ls -l /proc/self/fd; echo END"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const got = await peer.done;
    expect(got.error).toBeUndefined();
    const pts = /^\/dev\/pts\/\d+$/;
    expect(auditExecve(got.transcript, 0, [pts, pts, pts])).toEqual([]);
  });

  test("run -d: the container's process at execve", () => {
    const id = s.id("rund");
    const r = s.tsrun(["run", "-d", "--bundle", lsBundle(), id]);
    expect(r.status).toBe(0);
    stopped(id);
    expect(auditExecve(readFileSync(r.outFile, "utf8"), 0)).toEqual([]);
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });
});

describe("runc 1.1.5 against the same allow-list (differential)", () => {
  test("the process at execve: the same fds as under tsrun; what runc's waiting init holds besides is reported", () => {
    const b = lsBundle();
    const files = passedFiles(3, "runc");
    const id = s.id("runc");
    try {
      const outFile = join(s.dir, "runc.out");
      const errFile = join(s.dir, "runc.err");
      const o = openSync(outFile, "w");
      const e = openSync(errFile, "w");
      const r = spawnSync(runc.path!, ["--root", runc.root, "create", "--preserve-fds", "1", "--bundle", b, id], {
        stdio: ["ignore", o, e, ...files.fds],
        timeout: 30_000,
      });
      closeSync(o);
      closeSync(e);
      expect(readFileSync(errFile, "utf8")).toBe("");
      expect(r.status).toBe(0);
      const state = JSON.parse(runc.run(["state", id]).stdout);
      const bad = auditInit(fdsOf(state.pid), { stdio: ["/dev/null", outFile, errFile], preserved: files.paths.slice(0, 1), fifo: fifoOf(runc.root, id) });
      // The allowed ones are there; anything else is runc's, reported and not taken as tsrun's measure.
      expect(bad.filter((l) => / missing | is not held/.test(l))).toEqual([]);
      if (bad.length) console.log(`runc ${runc.path} holds in its created init, besides the allow-list:\n  ${bad.join("\n  ")}`);
      expect(runc.run(["start", id]).status).toBe(0);
      waitFor(() => (JSON.parse(runc.run(["state", id]).stdout).status === "stopped" ? true : undefined), 10_000);
      expect(auditExecve(readFileSync(outFile, "utf8"), 1)).toEqual([]);
    } finally {
      runc.run(["delete", "--force", id]);
      files.fds.forEach(closeSync);
    }
  });

  test("runc exec: the same fds at execve as tsrun exec", () => {
    const id = s.id("runcexec");
    try {
      expect(runc.run(["run", "-d", "--bundle", s.bundle((c) => (c.process.args = ["sleep", "1000"])), id], { detached: true }).status).toBe(0);
      const r = runc.run(["exec", id, ...LS_FDS], { toFiles: true });
      expect(r.status).toBe(0);
      expect(auditExecve(r.stdout, 0)).toEqual([]);
    } finally {
      runc.run(["delete", "--force", id]);
    }
  });
});

// --- helpers ------------------------------------------------------------------------------------------

function nsTsrun(args: string[]): { status: number | null; stdout: string; stderr: string; outFile: string; errFile: string } {
  return s.command(NSENTER, [`--net=/run/netns/${NETNS}`, "--", TSRUN, "--root", s.root, ...args]);
}

async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A console-socket manager (test/helpers/terminal-peer.py receive) at `sock`, running `steps` on the pty. */
function receiver(sock: string, steps: unknown[]): { listening: Promise<void>; done: Promise<{ error?: string; transcript: string }> } {
  const p = spawn("python3", [TTY_PY, "receive", sock, JSON.stringify(steps)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.setEncoding("utf8");
  const listening = new Promise<void>((res, rej) => {
    p.stdout.on("data", (d: string) => {
      out += d;
      if (out.startsWith("listening\n")) res();
    });
    p.on("close", () => rej(new Error(`receiver exited early: ${out}`)));
  });
  const done = new Promise<{ error?: string; transcript: string }>((res, rej) =>
    p.on("close", () => {
      try {
        const lines = out.trim().split("\n");
        res(JSON.parse(lines[lines.length - 1]!));
      } catch {
        rej(new Error(`receiver output: ${out}`));
      }
    }),
  );
  return { listening, done };
}
