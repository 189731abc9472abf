// process.terminal: the pty a manager receives on --console-socket (create, run -d), and `tsrun run`
// attached to the caller's own terminal. The other end is test/helpers/terminal-peer.py: a console-socket
// receiver (as conmon or the containerd shim) and a real pty driving `tsrun run` (as a person would).
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Runc } from "../helpers/runc.js";
import { Scratch, TOP, TSRUN, ensureBuilt, leftovers, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

const TTY_PY = join(TOP, "test/helpers/terminal-peer.py");
type Step = [string, ...(string | number)[]];

interface Received {
  ok: boolean;
  error?: string;
  transcript: string;
  records: number[][];
  received_at: number;
  payload: string;
  fds: number;
  extra: string;
  rdev: [number, number];
  ptn: number;
  winsize: [number, number];
}

interface Driven {
  ok: boolean;
  error?: string;
  transcript: string;
  records: number[][];
  status: number;
  lflag_restored: boolean;
}

function lastJson<T>(out: string): T {
  const lines = out.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** A console-socket manager listening at `sock`; resolves with what it saw once `steps` are done. */
async function receiver(sock: string, steps: Step[]): Promise<{ done: Promise<Received> }> {
  const p = spawn("python3", [TTY_PY, "receive", sock, JSON.stringify(steps)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.setEncoding("utf8");
  const done = new Promise<Received>((res, rej) => {
    p.on("error", rej);
    p.on("close", () => {
      try {
        res(lastJson<Received>(out));
      } catch {
        rej(new Error(`receiver output: ${out}`));
      }
    });
  });
  await new Promise<void>((res, rej) => {
    p.stdout.on("data", (d: string) => {
      out += d;
      if (out.startsWith("listening\n")) res();
    });
    p.on("close", () => rej(new Error(`receiver exited early: ${out}`)));
  });
  return { done };
}

/** `tsrun <args>` (state root of `sc`) on a fresh pty of its own (24x80), typed at by `steps`. */
function drive(sc: Scratch, steps: Step[], args: string[]): Driven {
  const r = spawnSync("python3", [TTY_PY, "drive", JSON.stringify(steps), TSRUN, "--root", sc.root, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  if (r.status !== 0 || !r.stdout) throw new Error(`terminal-peer.py drive: ${r.error ?? r.stderr}`);
  return lastJson<Driven>(r.stdout);
}

function terminalBundle(args: string[], edit: (c: any) => void = () => {}): string {
  return s.bundle((c) => {
    c.process.terminal = true;
    c.process.args = args;
    edit(c);
  });
}

function stopped(id: string): void {
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
}

describe("--console-socket: the pty master goes to the manager", () => {
  test("create sends one message with one fd before it exits: the master of the container's own devpts, runc's payload; the process talks through the pty", async () => {
    const sock = join(s.dir, "c1.sock");
    const id = s.id("sock");
    const script = [
      "echo tty=$(tty)",
      "echo fds=$(for f in 0 1 2; do readlink /proc/$$/fd/$f; done)",
      "echo open=$(for f in /proc/$$/fd/*; do readlink $f; done | grep -v '^pipe:' | sort -u | tr '\\n' ' ')",
      "echo ptmx=$(ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -c ptmx)",
      "echo ctty=$(cut -d' ' -f7 /proc/self/stat)",
      "echo size=$(stty size)",
      "echo console=$(stat -c %t:%T /dev/console)",
      "echo -n 'ready> '",
      "read line",
      "echo got:$line",
    ].join("; ");
    const b = terminalBundle(["sh", "-c", script], (c) => (c.process.consoleSize = { height: 30, width: 100 }));
    const r0 = await receiver(sock, [["expect", "ready> "], ["write", "hello pty\n"], ["expect", "got:hello pty"], ["eof", 10]]);
    const create = s.tsrun(["create", "--bundle", b, "--console-socket", sock, id]);
    const createdAt = Date.now();
    expect(create.stderr).toBe("");
    expect(create.status).toBe(0);
    expect(s.state(id).status).toBe("created");
    expect(s.tsrun(["start", id]).status).toBe(0);
    const got = await r0.done;
    expect(got.error).toBeUndefined();
    expect(got.received_at).toBeLessThanOrEqual(createdAt);
    expect(got.payload).toBe("/dev/ptmx");
    expect(got.fds).toBe(1);
    expect(got.extra).toBe(""); // one message, then the runtime closed the connection
    expect(got.rdev).toEqual([5, 2]); // a pty master (ptmx)
    expect(got.ptn).toBe(0); // the first pty of a devpts instance of its own, whatever the host has open
    expect(got.winsize).toEqual([30, 100]); // process.consoleSize
    const t = got.transcript.replace(/\r\n/g, "\n");
    expect(t).toContain("tty=/dev/pts/0\n");
    expect(t).toContain("fds=/dev/pts/0 /dev/pts/0 /dev/pts/0\n");
    expect(t).toContain("open=/dev/pts/0\n"); // apart from the pipe of $(...), only the slave: the master least of all
    expect(t).toContain("ptmx=0\n");
    expect(t).toContain(`ctty=${136 * 256}\n`); // tty_nr of /dev/pts/0: the controlling terminal
    expect(t).toContain("size=30 100\n");
    expect(t).toContain("console=88:0\n"); // /dev/console is the pty (136:0), as the spec asks
    expect(t).toContain("hello pty\ngot:hello pty\n"); // the pty's echo, then the answer
    stopped(id);
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });

  test("run -d with a console socket; a non-root process owns its terminal and the manager sets the size later", async () => {
    const sock = join(s.dir, "c2.sock");
    const id = s.id("rund");
    const script = "echo -n 'go> '; read x; echo owner=$(stat -c %u:%g $(tty)) size=$(stty size) id=$(id -u); read y";
    const b = terminalBundle(["sh", "-c", script], (c) => (c.process.user = { uid: 1000, gid: 1000 }));
    const r0 = await receiver(sock, [["expect", "go> "], ["resize", 50, 160], ["write", "\n"], ["expect", "id=1000"], ["write", "\n"], ["eof", 10]]);
    const r = s.tsrun(["run", "-d", "--bundle", b, "--console-socket", sock, id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const got = await r0.done;
    expect(got.error).toBeUndefined();
    expect(got.winsize).toEqual([0, 0]); // no consoleSize: nothing set
    // Owned by the process's user, group tty (devpts gid=5), as runc leaves it.
    expect(got.transcript).toContain("owner=1000:5 size=50 160 id=1000");
    stopped(id);
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });

  test("what the manager receives and the process sees of its terminal is what runc gives", async () => {
    const runc = new Runc(s.dir);
    runc.require();
    const script = [
      "stat -c '%F %t:%T %u:%g %a' $(tty) /dev/console",
      "cut -d' ' -f6,7 /proc/self/stat",
      "for f in 0 1 2; do readlink /proc/self/fd/$f; done",
      "stty -a",
    ].join("; ");
    const b = terminalBundle(["sh", "-c", script], (c) => {
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.consoleSize = { height: 40, width: 132 };
    });
    const seen = async (create: (sock: string, id: string) => { status: number | null }, start: (id: string) => void, tag: string) => {
      const sock = join(s.dir, `${tag}.sock`);
      const id = s.id(tag);
      const r0 = await receiver(sock, [["eof", 10]]);
      expect(create(sock, id).status).toBe(0);
      start(id);
      const got = await r0.done;
      expect(got.error).toBeUndefined();
      return { id, got: { payload: got.payload, fds: got.fds, extra: got.extra, rdev: got.rdev, ptn: got.ptn, winsize: got.winsize, transcript: got.transcript } };
    };
    try {
      const ours = await seen((sock, id) => s.tsrun(["create", "--bundle", b, "--console-socket", sock, id]), (id) => s.tsrun(["start", id]), "difft");
      const theirs = await seen((sock, id) => runc.run(["create", "--bundle", b, "--console-socket", sock, id], { detached: true }), (id) => runc.run(["start", id]), "diffr");
      expect(ours.got.transcript).toContain("character special file 88:0 1000:5 620\r\ncharacter special file 88:0 1000:5 620\r\n");
      expect(ours.got).toEqual(theirs.got);
      stopped(ours.id);
      expect(s.tsrun(["delete", ours.id]).status).toBe(0);
    } finally {
      for (const id of runc.run(["list", "-q"]).stdout.split("\n").filter(Boolean)) runc.run(["delete", "--force", id]);
      runc.cleanup();
    }
  });

  test("in a new user namespace: the pty of the container's devpts, owned by the mapped user", async () => {
    const sock = join(s.dir, "userns.sock");
    const id = s.id("userns");
    const b = terminalBundle(["sh", "-c", "tty; stat -c '%u:%g' $(tty) /dev/console; stty size; cat /proc/self/uid_map"], (c) => {
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.consoleSize = { height: 12, width: 34 };
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      // What a user namespace may not mount: sysfs and cgroups of the host's namespaces.
      c.mounts = c.mounts.filter((m: { type: string }) => !["sysfs", "cgroup", "cgroup2"].includes(m.type));
    });
    const r0 = await receiver(sock, [["eof", 10]]);
    expect(s.tsrun(["run", "-d", "--bundle", b, "--console-socket", sock, id]).status).toBe(0);
    const got = await r0.done;
    expect(got.error).toBeUndefined();
    expect(got.transcript.replace(/\r\n/g, "\n")).toMatch(/^\/dev\/pts\/0\n1000:5\n1000:5\n12 34\n +0 +100000 +65536\n$/);
    stopped(id);
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });

  test("no devpts in the container: create fails naming the ptmx, sends nothing, leaves nothing", async () => {
    const sock = join(s.dir, "nopts.sock");
    const id = s.id("nopts");
    const b = terminalBundle(["true"], (c) => (c.mounts = c.mounts.filter((m: { type: string }) => m.type !== "devpts")));
    const r0 = await receiver(sock, []);
    const r = s.tsrun(["create", "--bundle", b, "--console-socket", sock, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsrun: open \/dev\/pts\/ptmx: No such file or directory\n$/);
    const got = await r0.done;
    expect(got.fds).toBe(0); // the connection closed without a message
    expect(got.payload).toBe("");
    expect(leftovers(s.root, [id])).toEqual([]);
  });

  describe("errors: one line, nothing left behind", () => {
    const e = new Scratch(); // a state root of their own: nothing at all may be in it after each
    afterAll(() => expect(e.cleanup()).toEqual([]));
    const cases: [string, () => string[], RegExp][] = [
      ["terminal, create without a socket", () => ["create", "--bundle", terminalBundle(["true"])], /a terminal was asked for .* but no --console-socket was given/],
      ["terminal, run -d without a socket", () => ["run", "-d", "--bundle", terminalBundle(["true"])], /a terminal was asked for .* but no --console-socket was given/],
      ["a socket without a terminal", () => ["create", "--bundle", s.bundle(), "--console-socket", join(s.dir, "x.sock")], /--console-socket given but no terminal was asked for/],
      ["a socket for a foreground run", () => ["run", "--bundle", terminalBundle(["true"]), "--console-socket", join(s.dir, "x.sock")], /only for a detached process/],
      [
        "a socket path that does not exist",
        () => ["create", "--bundle", terminalBundle(["true"]), "--console-socket", join(s.dir, "missing.sock")],
        /console socket .*missing\.sock: connect: No such file or directory$/,
      ],
      [
        "a socket nobody listens on",
        () => {
          const dead = join(s.dir, "dead.sock");
          const r = spawnSync("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", dead]);
          expect(r.status).toBe(0);
          return ["create", "--bundle", terminalBundle(["true"]), "--console-socket", dead];
        },
        /console socket .*dead\.sock: connect: Connection refused$/,
      ],
      [
        "a path that is not a socket",
        () => {
          const file = join(s.dir, "plain.sock");
          writeFileSync(file, "");
          return ["create", "--bundle", terminalBundle(["true"]), "--console-socket", file];
        },
        /console socket .*plain\.sock: connect: Connection refused$/,
      ],
    ];
    test.each(cases)("%s", (_name, args, message) => {
      const id = e.id("err");
      const r = e.tsrun([...args(), id]);
      expect(r.status).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(e.tsrun(["state", id]).stderr).toMatch(/does not exist/);
      expect(leftovers(e.root, [...e.ids])).toEqual([]);
    });
  });
});

describe("tsrun run attached to the caller's terminal", () => {
  const a = new Scratch(); // a state root of their own, checked empty after each test
  afterAll(() => expect(a.cleanup()).toEqual([]));
  test("an interactive shell: commands and their output, the container's /dev/pts/0, window size and resizes, Ctrl-C inside, exit status, terminal restored", () => {
    const id = a.id("attach");
    const b = terminalBundle(["sh"]);
    const d = drive(
      a,
      [
        ["expect", "# "],
        ["write", "echo $((6*7))\r"],
        ["expect", "42\r\n"],
        ["write", "tty; cut -d' ' -f7 /proc/self/stat\r"],
        ["expect", "/dev/pts/0\r\n34816\r\n"],
        ["write", "stty size\r"],
        ["expect", "24 80\r\n"], // the caller's size
        ["resize", 40, 120],
        ["sleep", 0.3],
        ["write", "stty size\r"],
        ["expect", "40 120\r\n"], // passed on when the caller's window changes
        ["write", "sleep 100\r"],
        ["expect", "sleep 100\r\n"],
        ["sleep", 0.5],
        ["write", "\u0003"], // a byte for the container's pty, whose line discipline sends SIGINT there
        ["expect", "# "],
        ["write", "echo after=$?\r"],
        ["expect", "after=130\r\n"], // the sleep died of SIGINT; tsrun and the shell are still there
        ["write", "exit 3\r"],
      ],
      ["run", "--bundle", b, id],
    );
    expect(d.error).toBeUndefined();
    expect(d.status).toBe(3);
    expect(d.lflag_restored).toBe(true);
    expect(leftovers(a.root, [...a.ids])).toEqual([]);
  });

  test("the process's terminal settings and what reaches the caller's terminal are what `runc run` gives", () => {
    const runc = new Runc(a.dir);
    runc.require();
    const b = terminalBundle(["sh", "-c", "stty -a; tty; cut -d' ' -f6,7 /proc/self/stat; exit 5"]);
    try {
      const ours = drive(a, [], ["run", "--bundle", b, a.id("drun")]);
      const r = spawnSync("python3", [TTY_PY, "drive", "[]", runc.path!, "--root", runc.root, "run", "--bundle", b, a.id("drunc")], {
        encoding: "utf8",
        timeout: 60_000,
      });
      const theirs = lastJson<Driven>(r.stdout);
      expect(ours.error).toBeUndefined();
      expect(ours.transcript).toContain("-onlcr"); // the pty adds no CR: the caller's terminal does
      expect(ours.transcript).toContain("\r\n/dev/pts/0\r\n1 34816\r\n");
      // Byte for byte but for the window size: runc sizes the pty only after the process started, so
      // its `stty -a` sometimes runs first and prints an error there instead (seen here, racy).
      const sizeless = (d: Driven) => ({ ...d, transcript: d.transcript.replace(/^speed 38400 baud;[^]*?line = 0;/m, "speed 38400 baud; line = 0;") });
      expect(ours.transcript).toMatch(/^speed 38400 baud; rows 24; columns 80; line = 0;/m); // ours is sized before it runs
      expect(sizeless(ours)).toEqual(sizeless(theirs)); // status 5, terminal restored, the rest byte for byte
    } finally {
      for (const id of runc.run(["list", "-q"]).stdout.split("\n").filter(Boolean)) runc.run(["delete", "--force", id]);
      runc.cleanup();
    }
  });

  test("stdin not a terminal: copied as is (no raw mode), consoleSize applies, its end is an end-of-file on the pty", () => {
    const id = a.id("piped");
    const script = "stty size; tty; while read l; do echo got:$l; done; echo eof";
    const b = terminalBundle(["sh", "-c", script], (c) => (c.process.consoleSize = { height: 33, width: 99 }));
    const r = a.tsrun(["run", "--bundle", b, id], { stdin: "one\ntwo\n" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout.replace(/\r\n/g, "\n");
    expect(out).toContain("33 99\n/dev/pts/0\n");
    expect(out).toMatch(/got:one\ngot:two\neof\n$/); // `read` saw the end of the input, and the shell finished
  });

  test("stdin not a terminal: an interactive shell runs the piped commands and exits with the container's status", () => {
    const id = a.id("status");
    const r = a.tsrun(["run", "--bundle", terminalBundle(["sh"]), id], { stdin: "echo piped:$((1+1))\nexit 7\n" });
    expect(r.status).toBe(7);
    expect(r.stdout.replace(/\r\n/g, "\n")).toContain("\npiped:2\n");
  });

  test("stdin not a terminal: an interactive shell takes the end of the piped input for a Ctrl-D and leaves", () => {
    const id = a.id("ctrld");
    const r = a.tsrun(["run", "--bundle", terminalBundle(["sh"]), id], { stdin: "echo one\nsleep 0.3; echo two\n" });
    expect(r.status).toBe(0);
    expect(r.stdout.replace(/\r\n/g, "\n")).toMatch(/\none\n[^]*\ntwo\n/);
  });

  test("terminal false, run from a terminal: the container is in a session of its own, with no controlling terminal", () => {
    const id = a.id("nottyl");
    const b = a.bundle((c) => {
      c.process.args = ["sh", "-c", "echo ctty=$(cut -d' ' -f7 /proc/self/stat); echo sid=$(cut -d' ' -f6 /proc/self/stat); echo x > /dev/tty"];
    });
    const d = drive(a, [["expect", "ctty="]], ["run", "--bundle", b, id]);
    expect(d.error).toBeUndefined();
    const t = d.transcript.replace(/\r\n/g, "\n");
    expect(t).toContain("ctty=0\n");
    expect(t).toContain("sid=1\n"); // the init leads its session (pid 1 of its pid namespace)
    expect(t).toMatch(/\/dev\/tty: No such device or address/);
    expect(d.status).toBe(1);
  });
});

describe("exec with a terminal", () => {
  const x = new Scratch();
  afterAll(() => expect(x.cleanup()).toEqual([]));
  let id: string;
  beforeAll(() => {
    id = x.id("host");
    const b = x.bundle((c) => (c.process.args = ["sleep", "1000"]));
    expect(x.tsrun(["run", "-d", "--bundle", b, id]).status).toBe(0);
  });

  test("exec --tty --detach --console-socket: the manager gets the master of a pty of the container's devpts, the process's controlling terminal", async () => {
    const sock = join(x.dir, "exec.sock");
    const r0 = await receiver(sock, [["expect", "ready> "], ["write", "hi\n"], ["expect", "got:hi"], ["eof", 10]]);
    const script = "echo tty=$(tty); echo stat=$(cut -d' ' -f6,7 /proc/self/stat) pid=$$; echo -n 'ready> '; read v; echo got:$v";
    const r = x.tsrun(["exec", "--tty", "--detach", "--console-socket", sock, id, "sh", "-c", script]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const got = await r0.done;
    expect(got.error).toBeUndefined();
    expect(got.payload).toBe("/dev/ptmx");
    expect(got.fds).toBe(1);
    expect(got.ptn).toBe(0); // the container's own devpts instance: its first pty (the init has none)
    const t = got.transcript.replace(/\r\n/g, "\n");
    expect(t).toContain("tty=/dev/pts/0\n");
    const m = /stat=(\d+) (\d+) pid=(\d+)/.exec(t);
    expect(m && [m[1], m[2]]).toEqual([m![3], String(136 * 256)]); // leads its session, whose terminal is the pty
  });

  test("exec --tty in the foreground: attached to the caller's terminal, its size, its exit status", () => {
    const d = drive(
      x,
      [
        ["expect", "# "],
        ["write", "tty; stty size\r"],
        ["expect", "/dev/pts/"],
        ["expect", "24 80\r\n"],
        ["write", "exit 4\r"],
      ],
      ["exec", "--tty", id, "sh"],
    );
    expect(d.error).toBeUndefined();
    expect(d.status).toBe(4);
    expect(d.lflag_restored).toBe(true);
  });

  test("exec --process with terminal and consoleSize, stdin piped: copied to the pty, the process's status", () => {
    const file = join(x.dir, "process.json");
    writeFileSync(
      file,
      JSON.stringify({ terminal: true, consoleSize: { height: 21, width: 61 }, user: { uid: 0, gid: 0 }, cwd: "/", args: ["sh"], env: ["PATH=/bin"] }),
    );
    const r = x.tsrun(["exec", "--process", file, id], { stdin: "stty size\nexit 6\n" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(6);
    expect(r.stdout.replace(/\r\n/g, "\n")).toContain("\n21 61\n");
  });
});
