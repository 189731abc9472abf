// runc 1.2-1.4's flags that managers use, on real containers: --pidfd-socket on create, run and exec (a
// pidfd of the process, received the way containerd's shim receives it, by test/helpers/pidfd-peer.py)
// and user.* sysctls in a container with a user namespace of its own. runc 1.1.5, the runc here, has
// neither: the differential part checks that it refuses both, which is what spec-notes.md records.
// The cgroup flags (update --cpu-idle/--cpu-burst, cgroup.kill) are in cgroup-runc-flags.test.ts,
// which the cgroup v2 VM runs too.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Runc } from "../helpers/runc.js";
import { Scratch, TOP, TSRUN, ensureBuilt, leftovers, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
const runc = new Runc(s.dir);
beforeAll(() => {
  ensureBuilt();
  runc.require();
});
afterAll(() => {
  runc.cleanup();
  expect(s.cleanup()).toEqual([]);
});

const PEER = join(TOP, "test/helpers/pidfd-peer.py");
const SIGKILL = 9;

interface Received {
  payload: string;
  fds: number;
  link?: string;
  Pid?: number[];
  NSpid?: number[];
  eof: boolean;
}

/** A pidfd-socket manager listening at a fresh path: what it received, and signals sent through the fd. */
class Peer {
  readonly sock = join(s.dir, `p${Math.random().toString(36).slice(2, 8)}.sock`);
  private readonly p: ChildProcess;
  private buf = "";
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  constructor() {
    this.p = spawn("python3", [PEER, this.sock], { stdio: ["pipe", "pipe", "inherit"] });
    this.p.stdout!.setEncoding("utf8");
    this.p.stdout!.on("data", (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake?.();
    });
    this.p.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /** The next line the peer prints (10 s at most). */
  async line(): Promise<string> {
    const end = Date.now() + 10_000;
    while (!this.lines.length) {
      if (this.closed) throw new Error("pidfd peer exited");
      if (Date.now() > end) throw new Error("pidfd peer said nothing");
      await new Promise<void>((res) => {
        this.wake = res;
        setTimeout(res, 100);
      });
    }
    return this.lines.shift()!;
  }

  async listening(): Promise<this> {
    expect(await this.line()).toBe("listening");
    return this;
  }

  async received(): Promise<Received> {
    return JSON.parse(await this.line()) as Received;
  }

  /** pidfd_send_signal through the received fd; whether the process then exited. */
  async signal(sig: number): Promise<{ signalled: number; exited: boolean }> {
    this.p.stdin!.write(`signal ${sig}\n`);
    return JSON.parse(await this.line());
  }

  end(): void {
    this.p.stdin!.end();
  }
}

/** A process as received: a pidfd (anon inode) of `pid` in the host's pid namespace, one fd, the sender gone. */
function expectPidfdOf(r: Received, pid: number, payload: string): void {
  expect(r).toMatchObject({ payload, fds: 1, link: "anon_inode:[pidfd]", eof: true });
  expect(r.Pid).toEqual([pid]);
}

/** `tsrun args` in the background; its exit status. */
function background(args: string[]): { exit: Promise<number | null> } {
  const p = spawn(TSRUN, ["--root", s.root, ...args], { stdio: "ignore", env: {} });
  return { exit: new Promise((res) => p.on("close", (code) => res(code))) };
}

const alive = (pid: number) => {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("--pidfd-socket", () => {
  test("create: the manager gets a pidfd of the waiting init ('standard', as runc sends it) and can kill it through the fd", async () => {
    const peer = await new Peer().listening();
    const id = s.id("pidfd-create");
    const c = s.tsrun(["create", "--bundle", s.bundle((c) => (c.process.args = ["sleep", "1000"])), "--pidfd-socket", peer.sock, id]);
    expect(c.stderr).toBe("");
    expect(c.status).toBe(0);
    const pid = s.state(id).pid;
    expectPidfdOf(await peer.received(), pid, "standard");
    expect(await peer.signal(SIGKILL)).toEqual({ signalled: SIGKILL, exited: true });
    waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
    peer.end();
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });

  test("run -d: a pidfd of the running process; a relative socket path is the caller's", async () => {
    const peer = await new Peer().listening();
    const id = s.id("pidfd-run-d");
    const r = s.tsrun(["run", "-d", "--bundle", s.bundle((c) => (c.process.args = ["sleep", "1000"])), "--pidfd-socket", peer.sock.slice(s.dir.length + 1), id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const pid = s.state(id).pid;
    const got = await peer.received();
    expectPidfdOf(got, pid, "standard");
    // In the container's own pid namespace the same process is its pid 1.
    expect(got.NSpid).toEqual([pid, 1]);
    expect(await peer.signal(SIGKILL)).toMatchObject({ exited: true });
    peer.end();
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });

  test("run in the foreground: the manager sees the socket closed at once (the waiting stage 0 keeps no copy), and a kill through the fd ends the run", async () => {
    const peer = await new Peer().listening();
    const id = s.id("pidfd-run");
    const run = background(["run", "--bundle", s.bundle((c) => (c.process.args = ["sleep", "1000"])), "--pidfd-socket", peer.sock, id]);
    const got = await peer.received();
    expect(got).toMatchObject({ payload: "standard", link: "anon_inode:[pidfd]", eof: true });
    expect(alive(got.Pid![0])).toBe(true);
    // The pidfd comes during create: kill once the process runs, so the run ends with its status.
    waitFor(() => (s.tsrun(["state", id]).stdout.includes('"running"') ? true : undefined), 10_000);
    expect(await peer.signal(SIGKILL)).toMatchObject({ exited: true });
    expect(await run.exit).toBe(128 + SIGKILL);
    peer.end();
    expect(leftovers(s.root, [id])).toEqual([]);
  });

  test("exec: a pidfd of the exec'd process ('setns'), detached and in the foreground", async () => {
    const id = s.id("pidfd-exec");
    expect(s.tsrun(["run", "-d", "--bundle", s.bundle((c) => (c.process.args = ["sleep", "1000"])), id]).status).toBe(0);
    const init = s.state(id).pid;

    const peer = await new Peer().listening();
    const pidFile = join(s.dir, "exec.pid");
    const d = s.tsrun(["exec", "-d", "--pid-file", pidFile, "--pidfd-socket", peer.sock, id, "sleep", "900"]);
    expect(d.stderr).toBe("");
    expect(d.status).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pid).not.toBe(init);
    const got = await peer.received();
    expectPidfdOf(got, pid, "setns");
    expect(got.NSpid).toHaveLength(2); // the container's pid namespace, where it is not the init
    expect(got.NSpid![1]).not.toBe(1);
    expect(await peer.signal(SIGKILL)).toMatchObject({ exited: true });
    peer.end();

    const fg = await new Peer().listening();
    const exec = background(["exec", "--pidfd-socket", fg.sock, id, "sleep", "800"]);
    const seen = await fg.received();
    expect(seen).toMatchObject({ payload: "setns", link: "anon_inode:[pidfd]", eof: true });
    expect(await fg.signal(SIGKILL)).toMatchObject({ exited: true });
    expect(await exec.exit).toBe(128 + SIGKILL);
    fg.end();
    expect(alive(init)).toBe(true);
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });

  test("a socket nobody listens on fails create cleanly, naming it", () => {
    const id = s.id("pidfd-none");
    const missing = join(s.dir, "nobody.sock");
    const c = s.tsrun(["create", "--bundle", s.bundle(), "--pidfd-socket", missing, id]);
    expect(c.status).not.toBe(0);
    expect(c.stderr).toContain(`pidfd socket ${missing}: connect: No such file or directory`);
    expect(leftovers(s.root, [id])).toEqual([]);
  });

  test("runc 1.1.5 has no --pidfd-socket (runc 1.2 added it): nothing to compare against", () => {
    const r = runc.run(["create", "--bundle", s.bundle(), "--pidfd-socket", join(s.dir, "x.sock"), s.id("runc-pidfd")], { toFiles: true });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("flag provided but not defined: -pidfd-socket");
  });
});

describe("user.* sysctls", () => {
  const userns = (c: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    // sysfs and cgroup mounts need privileges over the host's network/cgroup namespaces.
    c.mounts = c.mounts.filter((m: { type: string }) => m.type !== "sysfs" && m.type !== "cgroup");
    c.linux.sysctl = { "user.max_user_namespaces": "7", "user/max_net_namespaces": "5" };
  };

  test("with a user namespace of its own: set inside, the host's limits untouched", () => {
    const host = readFileSync("/proc/sys/user/max_user_namespaces", "utf8");
    const id = s.id("sysctl-user");
    const r = s.tsrun(["run", "--bundle", s.bundle((c) => {
      userns(c);
      c.process.args = ["cat", "/proc/sys/user/max_user_namespaces", "/proc/sys/user/max_net_namespaces"];
    }), id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("7\n5\n");
    expect(readFileSync("/proc/sys/user/max_user_namespaces", "utf8")).toBe(host);
  });

  test("without one: refused with the field, as runc 1.1.5 refuses it (which refuses it with a user namespace too)", () => {
    const bundle = s.bundle((c) => (c.linux.sysctl = { "user.max_user_namespaces": "7" }));
    const id = s.id("sysctl-host");
    const r = s.tsrun(["create", "--bundle", bundle, id]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("/linux/sysctl/user.max_user_namespaces");
    expect(r.stderr).toContain("needs a user namespace of the container's own");
    expect(leftovers(s.root, [id])).toEqual([]);
    for (const b of [bundle, s.bundle(userns)]) {
      const rid = s.id("runc-sysctl");
      const theirs = runc.run(["create", "--bundle", b, rid], { toFiles: true });
      if (theirs.status === 0) runc.run(["delete", "--force", rid]);
      expect(theirs.status).not.toBe(0);
      expect(theirs.stderr).toMatch(/sysctl "user.max_user_namespaces" is not in a separate kernel namespace|user\.max_user_namespaces/);
    }
  });
});
