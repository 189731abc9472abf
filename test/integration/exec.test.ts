// tsrun exec: a process joins a created or running container. What it sees from inside (namespaces,
// processes, files, cgroup, identity, fds, cwd), what the caller gets (exit status, pid file,
// signals, errors), and what a process of the container cannot reach of the joining tsrun-init.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execInContainer } from "../../src/lifecycle/exec.js";
import { makeContext } from "../../src/lifecycle/context.js";
import { InitError } from "../../src/errors.js";
import { launchInit } from "../../src/init/launch.js";
import { encodePlan } from "../../src/launch/encode.js";
import { Op } from "../../src/launch/ops.js";
import { hostHierarchies, layoutOf } from "../../src/cgroups/hierarchy.js";
import { EXAMPLES } from "../helpers/examples.js";
import { Runc } from "../helpers/runc.js";
import { INIT, Scratch, TOP, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
const probeDirs: string[] = [];
beforeAll(() => ensureBuilt());
afterAll(() => {
  const leaks = s.cleanup();
  for (const d of probeDirs) rmSync(d, { recursive: true, force: true });
  expect(leaks).toEqual([]);
});

const TMPFS = { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"] };
const USERNS = (c: any) => {
  c.linux.namespaces.push({ type: "user" });
  c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  // sysfs and cgroup mounts need privileges over the host's network/cgroup: not in a user namespace.
  c.mounts = c.mounts.filter((m: any) => m.type !== "sysfs" && m.type !== "cgroup");
};

/** A detached container whose init runs `script` (with a tmpfs /tmp); returns its id. */
function container(script: string, edit: (c: any) => void = () => {}, verb: "run" | "create" = "run"): string {
  const id = s.id("ex");
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    c.mounts.push(TMPFS);
    edit(c);
  });
  mkdirSync(join(b, "rootfs"), { recursive: true }); // the mount point of a layered root (unused otherwise)
  const r = s.tsrun(verb === "run" ? ["run", "-d", "--bundle", b, id] : ["create", "--bundle", b, id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return id;
}

/** `tsrun exec ARGS` (flags, id, command), as a manager calls it. */
const exec = (args: string[], opts: Parameters<Scratch["tsrun"]>[1] = {}) => s.tsrun(["exec", ...args], opts);

/** exec that must succeed; returns its stdout. */
function inside(id: string, script: string, flags: string[] = []): string {
  const r = exec([...flags, id, "sh", "-c", script]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

const initPid = (id: string): number => s.state(id).pid;
/** Host pids of every process in the container's cgroup (any cgroup layout). */
const cgroupProcs = (id: string): number[] => JSON.parse(s.tsrun(["ps", "--format", "json", id]).stdout);

/** The container's init: writes a file in its /tmp and sleeps. Shared by the read-only tests. */
let main: string;
beforeAll(() => {
  main = container("echo written-by-init > /tmp/from-init; exec sleep 1000", (c) => {
    c.hostname = "execbox";
    c.process.noNewPrivileges = false;
  });
  waitFor(() => (existsSync(`/proc/${initPid(main)}/root/tmp/from-init`) ? true : undefined));
});

const NS_LOOP = 'for n in /proc/self/ns/*; do b=${n##*/}; echo "$b $(readlink $n) $(readlink /proc/1/ns/$b)"; done';

describe("what the process sees", () => {
  test("every namespace of the init: hostname, files in its mount namespace, its pid 1; its own pid is not 1", () => {
    const out = inside(main, `hostname; cat /tmp/from-init; echo $$; tr '\\0' ' ' < /proc/1/cmdline; echo; ${NS_LOOP}`);
    const [host, file, pid, cmd, ...ns] = out.trim().split("\n");
    expect([host, file, cmd.trim()]).toEqual(["execbox", "written-by-init", "sleep 1000"]);
    expect(Number(pid)).toBeGreaterThan(1);
    expect(ns.map((l) => l.split(" ")[0])).toEqual(expect.arrayContaining(["cgroup", "ipc", "mnt", "net", "pid", "uts", "user", "time"]));
    for (const line of ns) {
      const [name, mine, init] = line.split(" ");
      expect([name, mine]).toEqual([name, init]);
    }
    // And they are the container's, not the host's.
    for (const name of ["mnt", "net", "pid", "uts", "ipc", "cgroup"]) {
      expect(ns.find((l) => l.startsWith(`${name} `))!.split(" ")[1]).not.toBe(readlinkSync(`/proc/self/ns/${name}`));
    }
  });

  test("a user and a time namespace are joined too (init in its own user namespace)", () => {
    const id = container("exec sleep 1000", (c) => {
      USERNS(c);
      c.linux.namespaces.push({ type: "time" });
    });
    const out = inside(id, `id -u; cat /proc/self/uid_map; ${NS_LOOP}`);
    const [uid, map, ...ns] = out.trim().split("\n");
    expect(uid).toBe("0");
    expect(map.trim().split(/\s+/)).toEqual(["0", "100000", "65536"]);
    for (const line of ns) {
      const [name, mine, init] = line.split(" ");
      expect([name, mine]).toEqual([name, init]);
    }
    for (const name of ["user", "time"]) {
      expect(ns.find((l) => l.startsWith(`${name} `))!.split(" ")[1]).not.toBe(readlinkSync(`/proc/self/ns/${name}`));
    }
    s.tsrun(["delete", "--force", id]);
  });

  test("the process leads its own session and process group, as with runc", () => {
    const [pid, pgid, sid] = inside(main, "cut -d' ' -f1,5,6 /proc/$$/stat").trim().split(" ");
    expect(Number(pid)).toBeGreaterThan(1);
    expect([pgid, sid]).toEqual([pid, pid]);
  });

  test("a layered container: its overlay root, and HOME from the layers' /etc/passwd (nothing on the host's mount point)", () => {
    const layers = join(TOP, "bundles/layered/layers");
    const id = container("exec sleep 1000", (c) => {
      c.root = { path: "rootfs", readonly: false };
      c.tsrun = { layers: [join(layers, "base"), join(layers, "app")] };
    });
    const out = inside(id, "awk '$2 == \"/\" { print $3 }' /proc/self/mounts; cat /etc/motd; echo $HOME", ["--user", "1000"]);
    expect(out).toBe(`overlay\n${readFileSync(join(layers, "app/etc/motd"), "utf8")}/home/app\n`);
    s.tsrun(["delete", "--force", id]);
  });

  test("ps and /proc show the container's processes only", () => {
    const out = inside(main, "ps -o pid,args; ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '");
    expect(out).toMatch(/^\s*1 sleep 1000$/m);
    const pids = out.trim().split("\n").at(-1)!.trim().split(" ").map(Number);
    expect(pids).toContain(1);
    expect(pids.every((p) => p >= 1 && p < 100)).toBe(true);
  });

  test("the container's network namespace: its interfaces, not the host's", () => {
    const out = inside(main, "ip -o link | cut -d: -f2; cat /proc/net/dev | wc -l");
    expect(out.trim().split("\n").map((l) => l.trim())).toEqual(["lo", "3"]);
  });

  test("the container's cgroup, in every hierarchy: inside, /proc/self/cgroup is the init's", () => {
    const out = inside(main, "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup");
    const [mine, init] = out.split("---\n");
    expect(mine).toBe(init);
    expect(mine.trim().split("\n").length).toBeGreaterThan(1);
  });

  test("from outside: a detached process is in the container's cgroup in every hierarchy", () => {
    const pidFile = join(s.dir, "cg.pid");
    const r = exec(["--detach", "--pid-file", pidFile, main, "sleep", "1000"]);
    expect(r.status).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    try {
      const init = readFileSync(`/proc/${initPid(main)}/cgroup`, "utf8");
      expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toBe(init);
      expect(init).toContain(`/tsrun/${main}\n`);
      expect(JSON.parse(s.tsrun(["ps", "--format", "json", main]).stdout)).toContain(pid);
    } finally {
      process.kill(pid, "SIGKILL");
    }
  });

  test("--user, --additional-gids, --cap, --no-new-privs, --env and --cwd", () => {
    const out = inside(main, "id -u; id -g; id -G; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; echo $FOO; echo $PATH; echo $HOME; pwd", [
      "--user", "1000:1001", "-g", "5", "--additional-gids", "7", "--cap", "CAP_SYS_ADMIN", "--no-new-privs", "-e", "FOO=bar", "-e", "PATH=/bin:/usr/bin", "--cwd", "/tmp",
    ]);
    const l = out.trim().split("\n");
    expect(l.slice(0, 3)).toEqual(["1000", "1001", "1001 5 7"]);
    // The config's CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10), plus CAP_SYS_ADMIN (21).
    expect(l[3]).toMatch(/^CapBnd:\s+0000000020200420$/);
    expect(l[4]).toMatch(/^NoNewPrivs:\s+1$/);
    expect(l.slice(5)).toEqual(["bar", "/bin:/usr/bin", "/home/app", "/tmp"]);
  });

  test("without flags: the config's user, capabilities, env and cwd; HOME from the container's passwd", () => {
    const out = inside(main, "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; echo $PATH; echo $HOME; pwd");
    expect(out.trim().split("\n")).toEqual([
      "0",
      expect.stringMatching(/^CapEff:\s+0000000020000420$/),
      expect.stringMatching(/^NoNewPrivs:\s+0$/),
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "/root",
      "/",
    ]);
  });

  test("--process: a runtime-spec process object, with user, capabilities, env, cwd, rlimits, no_new_privs", () => {
    const file = join(s.dir, "process.json");
    writeFileSync(
      file,
      JSON.stringify({
        user: { uid: 1000, gid: 1000, additionalGids: [9], umask: 0o077 },
        args: ["sh", "-c", "id -u; id -G; umask; pwd; echo $X; grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; ulimit -n"],
        env: ["X=from-file", "PATH=/bin"],
        cwd: "/tmp",
        capabilities: { bounding: ["CAP_KILL"], effective: [], permitted: [] },
        rlimits: [{ type: "RLIMIT_NOFILE", soft: 77, hard: 88 }],
        noNewPrivileges: true,
      }),
    );
    const r = exec(["--process", file, main]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual(["1000", "1000 9", "0077", "/tmp", "from-file", expect.stringMatching(/^CapBnd:\s+0000000000000020$/), expect.stringMatching(/^NoNewPrivs:\s+1$/), "77"]);
  });

  test("--preserve-fds passes fds 3.. to the process; nothing else of the caller's reaches it", () => {
    const file = join(s.dir, "fd3.txt");
    writeFileSync(file, "through fd 3\n");
    const fd3 = openSync(file, "r");
    const fd4 = openSync(file, "r");
    try {
      const stdio = ["ignore", "pipe", "pipe", fd3, fd4] as any;
      // `ls` of the shell's fds, neither in a pipeline nor the last command (the shell would hold a
      // pipe, or ls would replace it and list its own directory fd).
      const withFd = exec(["--preserve-fds", "1", main, "sh", "-c", "cat <&3; ls /proc/$$/fd; true"], { stdio });
      expect(withFd.stderr).toBe("");
      expect(withFd.stdout).toBe("through fd 3\n0\n1\n2\n3\n");
      const without = exec([main, "sh", "-c", "ls /proc/$$/fd; true"], { stdio });
      expect(without.stdout).toBe("0\n1\n2\n");
    } finally {
      closeSync(fd3);
      closeSync(fd4);
    }
  });

  test("no host cwd: the process starts in its configured cwd, at the container's root", () => {
    // The caller's own cwd is a host directory (the scratch dir).
    expect(inside(main, "readlink /proc/self/cwd; readlink /proc/self/root; ls /proc/$$/fd; true")).toBe("/\n/\n0\n1\n2\n");
    expect(inside(main, "readlink /proc/self/cwd", ["--cwd", "/tmp"])).toBe("/tmp\n");
  });
});

describe("what the caller gets", () => {
  test("the process's exit status, and 128+N when signal N killed it", () => {
    expect(exec([main, "sh", "-c", "exit 7"]).status).toBe(7);
    expect(exec([main, "sh", "-c", "kill -TERM $$"]).status).toBe(128 + 15);
    expect(exec([main, "true"]).status).toBe(0);
  });

  test("--detach returns once the process runs; --pid-file holds its host pid without a newline", () => {
    const pidFile = join(s.dir, "d.pid");
    const r = exec(["--detach", "--pid-file", pidFile, main, "sh", "-c", "echo started > /tmp/detached; exec sleep 1000"]);
    expect(r.status).toBe(0);
    const text = readFileSync(pidFile, "utf8");
    expect(text).toMatch(/^[1-9][0-9]*$/);
    const pid = Number(text);
    try {
      waitFor(() => (existsSync(`/proc/${initPid(main)}/root/tmp/detached`) ? true : undefined));
      expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).toBe("sleep\u00001000\u0000");
      // Its host pid is in the container's pid namespace under another number.
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1].split(/\s+/);
      expect(nspid).toHaveLength(2);
      expect(Number(nspid[0])).toBe(pid);
    } finally {
      process.kill(pid, "SIGKILL");
    }
  });

  test("as containerd calls it: --process FILE --detach --pid-file, with a JSON log; the process writes to the caller's stdio", () => {
    const pidFile = join(s.dir, "ctr.pid");
    const log = join(s.dir, "ctr-log.json");
    const r = s.tsrun(["exec", "--process", join(EXAMPLES, "containerd-exec-process.json"), "--detach", "--pid-file", pidFile, main], {
      global: ["--log", log, "--log-format", "json"],
    });
    expect(r.status).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pid).toBeGreaterThan(0);
    // The process (sh -c 'echo exec-out; echo exec-err >&2; exit 3') keeps the caller's stdout and stderr.
    waitFor(() => (readFileSync(r.outFile, "utf8") === "exec-out\n" && readFileSync(r.errFile, "utf8") === "exec-err\n" ? true : undefined));
    expect(existsSync(log) ? readFileSync(log, "utf8") : "").not.toContain('"level":"error"');
  });

  test("a failed exec appends one JSON error line to the --log file, as managers read it", () => {
    const log = join(s.dir, "fail-log.json");
    const r = s.tsrun(["exec", main, "no-such-program"], { global: ["--log", log, "--log-format", "json"] });
    expect(r.status).toBe(255);
    const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ level: "error", msg: 'exec: "no-such-program": executable file not found in $PATH' });
  });

  test("a foreground exec forwards TERM to the process and exits with its status", async () => {
    const out = join(s.dir, "fwd.out");
    const o = openSync(out, "w");
    const child = spawn(TSRUN, ["--root", s.root, "exec", main, "sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done"], {
      stdio: ["ignore", o, o],
      env: {},
    });
    closeSync(o);
    const done = exited(child);
    waitFor(() => (readFileSync(out, "utf8").includes("ready") ? true : undefined), 10_000);
    child.kill("SIGTERM");
    expect(await done).toBe(42);
    expect(readFileSync(out, "utf8")).toBe("ready\ngot-term\n");
  });

  test("nothing of a foreground exec stays: only the init is left in the cgroup", () => {
    expect(exec([main, "true"]).status).toBe(0);
    expect(cgroupProcs(main)).toEqual([initPid(main)]);
  });

  test("a created container can be joined (as runc allows); its pid 1 is still tsrun-init", () => {
    const id = container("exec sleep 1000", USERNS, "create");
    expect(inside(id, "cat /proc/1/comm; id -u")).toBe("tsrun-init\n0\n");
    expect(s.state(id).status).toBe("created");
    s.tsrun(["delete", "--force", id]);
  });

  test("errors: unknown, stopped and paused containers, a missing program, bad flags; exit 255 as runc", () => {
    const expectError = (args: string[], message: string | RegExp) => {
      const r = exec(args);
      expect(r.status).toBe(255);
      expect(r.stderr.trim()).toMatch(typeof message === "string" ? new RegExp(`^tsrun: ${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) : message);
    };
    expectError(["no-such-id", "true"], "container no-such-id does not exist");
    expectError([main, "no-such-program"], 'exec: "no-such-program": executable file not found in $PATH');
    expectError([main], "exec: give the command to run after the container id, or --process FILE");
    expectError(["--user", "root", main, "id"], '--user "root": the uid must be a number from 0 to 4294967294');
    expectError(["--cwd", "/no/such/dir", main, "true"], "chdir /no/such/dir: No such file or directory");
    expectError(["--cap", "CAP_NOPE", main, "true"], '--cap "CAP_NOPE": unknown capability (names such as CAP_SYS_ADMIN)');
    expectError(["--cap", "CAP_SYS_RESOURCE", main, "true"], "--cap CAP_SYS_RESOURCE: not available on this host");
    // runc's terminal rules (terminals themselves: test/integration/terminal.test.ts)
    expectError(["--tty", "--detach", main, "sh"], /^tsrun: a terminal was asked for .* but no --console-socket was given/);
    expectError(["--console-socket", "/x.sock", main, "sh"], /^tsrun: --console-socket given but no terminal was asked for/);
    expectError(["--tty", "--console-socket", "/x.sock", main, "sh"], /^tsrun: --console-socket is only for a detached process/);

    const stopped = container("true");
    waitFor(() => (s.state(stopped).status === "stopped" ? true : undefined));
    expectError([stopped, "true"], "cannot exec in a stopped container");

    const paused = container("exec sleep 1000");
    expect(s.tsrun(["pause", paused]).status).toBe(0);
    expectError([paused, "true"], "cannot exec in a paused container (use --ignore-paused to override)");
    s.tsrun(["delete", "--force", paused]);
    s.tsrun(["delete", "--force", stopped]);
  });

  test("a pid file that cannot be written fails the exec (255), naming the file given, and its process does not stay", () => {
    const log = join(s.dir, "pidfile-log.json");
    for (const detach of [false, true]) {
      const file = join(s.dir, "no-such-dir", "exec.pid");
      const r = s.tsrun(["exec", ...(detach ? ["--detach"] : []), "--pid-file", file, main, "sleep", "4242"], { global: ["--log", log, "--log-format", "json"] });
      expect(r.status).toBe(255);
      const msg = `${file}: cannot write the pid file: no such file or directory`;
      expect(r.stderr).toBe(`tsrun: ${msg}\n`);
      expect(JSON.parse(readFileSync(log, "utf8").trim().split("\n").at(-1)!)).toMatchObject({ level: "error", msg });
      waitFor(() => (cgroupProcs(main).some((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("4242")) ? undefined : true));
    }
    expect(cgroupProcs(main)).toEqual([initPid(main)]);
    // create's pid file says the same, and the create is undone
    const id = s.id("badpid");
    const c = s.tsrun(["create", "--bundle", s.bundle(), "--pid-file", join(s.dir, "no-such-dir", "c.pid"), id]);
    expect(c).toMatchObject({ status: 1, stderr: `tsrun: ${join(s.dir, "no-such-dir", "c.pid")}: cannot write the pid file: no such file or directory\n` });
    expect(s.tsrun(["state", id]).status).toBe(1);
  });

  test("--ignore-paused: the process runs in a paused container once it is resumed; the exec waits for it and does not hold up resume", async () => {
    const id = container("exec sleep 1000");
    expect(s.tsrun(["pause", id]).status).toBe(0);
    const out = join(s.dir, "ignore-paused.out");
    const o = openSync(out, "w");
    const child = spawn(TSRUN, ["--root", s.root, "exec", "--ignore-paused", id, "sh", "-c", "echo ok; exit 3"], { stdio: ["ignore", o, o], env: {} });
    closeSync(o);
    const done = exited(child);
    let finished = false;
    void done.then(() => (finished = true));
    await new Promise((r) => setTimeout(r, 1500));
    // Frozen with the container: nothing ran yet, and the container is still paused.
    expect(finished).toBe(false);
    expect(readFileSync(out, "utf8")).toBe("");
    expect(s.state(id).status).toBe("paused");
    expect(s.tsrun(["resume", id])).toMatchObject({ status: 0, stderr: "" });
    expect(await done).toBe(3);
    expect(readFileSync(out, "utf8")).toBe("ok\n");
    // Without the flag a paused container is refused, as before.
    expect(s.tsrun(["pause", id]).status).toBe(0);
    expect(exec([id, "true"])).toMatchObject({ status: 255, stderr: "tsrun: cannot exec in a paused container (use --ignore-paused to override)\n" });
    s.tsrun(["delete", "--force", id]);
  });

  test("--cgroup: the process runs in an existing sub-cgroup, per controller or in every hierarchy; bad values are refused", () => {
    const id = container("exec sleep 1000");
    const made = hostHierarchies().map((h) => join(h.mountPoint, "tsrun", id, "sub"));
    try {
      for (const d of made) {
        mkdirSync(d);
        // A new v1 cpuset cgroup has no CPUs or memory nodes: no task can join it before it gets some.
        for (const f of ["cpuset.cpus", "cpuset.mems"]) {
          if (existsSync(join(d, f))) writeFileSync(join(d, f), readFileSync(join(d, "..", f)));
        }
      }
      const memory = hostHierarchies().find((h) => h.controllers.split(",").includes("memory"));
      const lines = (out: string) => out.trim().split("\n");
      // Every hierarchy: inside, each line of /proc/self/cgroup ends in /sub (cgroup namespace); from the
      // host, the process is below the container's cgroup in each.
      const all = lines(inside(id, "cat /proc/self/cgroup", ["--cgroup", "sub"]));
      expect(all.length).toBeGreaterThan(0);
      expect(all.every((l) => l.endsWith(":/sub"))).toBe(true);
      if (memory) {
        // One v1 controller: that hierarchy only.
        const one = lines(inside(id, "cat /proc/self/cgroup", ["--cgroup", "memory:sub"]));
        expect(one.filter((l) => l.endsWith(":/sub")).map((l) => l.split(":")[1])).toEqual(["memory"]);
        const pidFile = join(s.dir, "cg-sub.pid");
        expect(exec(["--detach", "--pid-file", pidFile, "--cgroup", "memory:/sub/", id, "sleep", "1000"]).status).toBe(0);
        const pid = Number(readFileSync(pidFile, "utf8"));
        try {
          expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toMatch(new RegExp(`:memory:/tsrun/${id}/sub\n`));
          expect(readFileSync(join(memory.mountPoint, "tsrun", id, "sub", "cgroup.procs"), "utf8").trim()).toBe(String(pid));
        } finally {
          process.kill(pid, "SIGKILL");
        }
      } else {
        console.log("--cgroup per controller: not checked, this host has no v1 memory hierarchy");
      }
      // "/" is the container's own cgroup.
      expect(lines(inside(id, "cat /proc/self/cgroup", ["--cgroup", "/"])).every((l) => l.endsWith(":/"))).toBe(true);
      // runc's refusals, with the phrases its integration tests look for
      const refused = (flags: string[], message: RegExp) => {
        const r = exec([...flags, id, "true"]);
        expect([flags, r.status]).toEqual([flags, 255]);
        expect(r.stderr).toMatch(message);
      };
      refused(["--cgroup", ".."], / \.\. is not a sub cgroup path/);
      refused(["--cgroup", `../${id}-sibling`], /is not a sub cgroup path/);
      refused(["--cgroup", "nonexistent"], / adding pid .*\/nonexistent\/cgroup\.procs: no such file /);
      refused(["--cgroup", "whaaat:/"], /unknown controller whaaat/);
      refused(["--cgroup", "a:b:c"], /invalid --cgroup argument: a:b:c/);
      refused(["--cgroup", "a", "--cgroup", "b"], /missing <controller>: prefix/);
      if (memory) refused(["--cgroup", "memory:nonexistent"], / adding pid .*\/nonexistent\/cgroup\.procs: no such file /);
      expect(cgroupProcs(id)).toEqual([initPid(id)]);
    } finally {
      // delete removes the sub-cgroups with the container's; a failed test may have left one empty.
      s.tsrun(["delete", "--force", id]);
      for (const d of made) if (existsSync(d)) rmdirSync(d);
    }
  });

  test("--process errors name the file and the path inside it", () => {
    const bad = (name: string, body: string) => {
      const f = join(s.dir, name);
      writeFileSync(f, body);
      return f;
    };
    const cases: [string, string][] = [
      [bad("p1.json", JSON.stringify({ user: { uid: "x", gid: 0 }, args: ["true"], cwd: "/" })), "/user/uid: must be integer"],
      [bad("p2.json", JSON.stringify({ user: { uid: 0, gid: 0 }, args: ["true"], cwd: "tmp" })), "/cwd: must be an absolute path"],
      [bad("p3.json", JSON.stringify({ user: { uid: 0, gid: 0 }, cwd: "/" })), "/args: is required"],
      [bad("p4.json", '{"user": {"uid": 0, "gid": 0},'), "invalid JSON at line 1 column 31: unexpected end of input"],
    ];
    for (const [file, detail] of cases) {
      const r = exec(["--process", file, main]);
      expect(r.status).toBe(255);
      expect(r.stderr.trim()).toBe(`tsrun: ${file}: ${detail}`);
    }
    const r = exec(["--process", cases[0][0], "--env", "A=1", main]);
    expect(r.stderr.trim()).toBe("tsrun: exec: --env cannot be combined with --process (set it in the process file)");
  });
});

describe("the same as runc exec", () => {
  const rc = new Runc(s.dir);
  const runc = (args: string[], detached = false) => rc.run(args, { detached, cwd: s.dir });
  /** What an exec'd process can observe of itself, one item per line. */
  const PROBE = [
    "hostname",
    "id",
    'grep -E "^(Cap|NoNewPrivs)" /proc/self/status',
    "ulimit -n",
    "umask",
    "pwd",
    'env | sort | tr "\\n" " "; echo',
    'set -- $(cut -d" " -f1,5,6 /proc/$$/stat); echo "pid>1:$(( $1 > 1 )) pgid=pid:$(( $2 == $1 )) sid=pid:$(( $3 == $1 ))"',
    'sort /proc/self/cgroup | tr "\\n" " "; echo',
    "ls /proc/$$/fd", // not in a pipeline: the shell would hold a pipe's fds meanwhile
    "readlink /proc/self/cwd",
  ].join("; ");
  let ours: string;
  let theirs: string;

  beforeAll(() => {
    rc.require();
    const b = s.bundle((c) => {
      c.process.args = ["sleep", "1000"];
      c.mounts.push(TMPFS);
    });
    ours = s.id("diff");
    theirs = `runc-${ours}`;
    expect(s.tsrun(["run", "-d", "--bundle", b, ours]).status).toBe(0);
    expect(runc(["run", "-d", "--bundle", b, theirs], true).status).toBe(0);
  });
  afterAll(() => {
    runc(["delete", "--force", theirs]);
    rc.cleanup();
  });

  const both = (flags: string[], tail: string[]) => {
    const a = runc(["exec", ...flags, theirs, ...tail]);
    const b = s.tsrun(["exec", ...flags, ours, ...tail]);
    expect([b.stderr, b.status]).toEqual([a.stderr, a.status]);
    return [b.stdout, a.stdout];
  };

  test("with the config's process", () => {
    const [t, r] = both([], ["sh", "-c", `${PROBE}; true`]);
    expect(t).toBe(r);
  });

  test("with --user, -g, --cap, --env (repeated names), --cwd, --no-new-privs", () => {
    const flags = ["--user", "1000:1000", "-g", "5", "--cap", "CAP_SYS_ADMIN", "-e", "PATH=/bin", "-e", "A=1", "-e", "A=2", "--cwd", "/tmp", "--no-new-privs"];
    const [t, r] = both(flags, ["sh", "-c", `${PROBE}; true`]);
    expect(t).toBe(r);
  });

  test("with containerd's --process file", () => {
    const proc = JSON.parse(readFileSync(join(EXAMPLES, "containerd-exec-process.json"), "utf8"));
    proc.args = ["sh", "-c", `${PROBE}; true`];
    const file = join(s.dir, "diff-process.json");
    writeFileSync(file, JSON.stringify(proc));
    const [t, r] = both(["--process", file], []);
    expect(t).toBe(r);
  });
});

describe("exec's other flags, the same as runc exec", () => {
  const rc = new Runc(s.dir);
  const runc = (args: string[], detached = false) => rc.run(args, { detached, cwd: s.dir });
  let ours: string;
  let theirs: string;
  const subDirs: string[] = [];

  beforeAll(() => {
    rc.require();
    const b = s.bundle((c) => (c.process.args = ["sleep", "1000"]));
    ours = s.id("diff-flags");
    theirs = `runc-${ours}`;
    expect(s.tsrun(["run", "-d", "--bundle", b, ours]).status).toBe(0);
    expect(runc(["run", "-d", "--bundle", b, theirs], true).status).toBe(0);
  });
  afterAll(() => {
    for (const d of subDirs.reverse()) if (existsSync(d)) rmdirSync(d);
    runc(["delete", "--force", theirs]);
    s.tsrun(["delete", "--force", ours]);
    rc.cleanup();
  });

  /** A sub-cgroup `name` below both containers' cgroups, in every hierarchy each uses. */
  function makeSub(name: string): void {
    const runcPaths: Record<string, string> = JSON.parse(readFileSync(join(rc.root, theirs, "state.json"), "utf8")).cgroup_paths;
    const bases = [...new Set([...hostHierarchies().map((h) => join(h.mountPoint, "tsrun", ours)), ...Object.values(runcPaths)])];
    for (const base of bases) {
      const d = join(base, name);
      mkdirSync(d);
      subDirs.push(d);
      for (const f of ["cpuset.cpus", "cpuset.mems"]) if (existsSync(join(d, f))) writeFileSync(join(d, f), readFileSync(join(base, f)));
    }
  }

  const both = (flags: string[], tail: string[]) => ({
    ours: s.tsrun(["exec", ...flags, ours, ...tail]),
    theirs: runc(["exec", ...flags, theirs, ...tail]),
  });

  test("--cgroup: the same sub-cgroups joined (seen from inside), the same arguments refused", () => {
    makeSub("sub");
    // Per-controller forms join on hosts with v1 controllers; a v2-only host has none to name (both refuse).
    const perController = [["--cgroup", "memory,pids:sub"], ["--cgroup", "memory:sub", "--cgroup", "pids:/sub/"], ["--cgroup", "cpu:sub/../sub"]];
    const v1 = layoutOf(hostHierarchies()) !== "unified";
    const joins = [["--cgroup", "sub"], ["--cgroup", "/"], ...(v1 ? perController : [])];
    for (const flags of joins) {
      const r = both(flags, ["cat", "/proc/self/cgroup"]);
      expect([flags, r.ours.status, r.ours.stderr]).toEqual([flags, 0, ""]);
      expect([flags, r.ours.stdout]).toEqual([flags, r.theirs.stdout]);
    }
    expect(both(["--cgroup", "sub"], ["cat", "/proc/self/cgroup"]).ours.stdout).toMatch(/:\/sub$/m);
    const refusals = [["--cgroup", ".."], ["--cgroup", "nonexistent"], ["--cgroup", "memory:nonexistent"], ["--cgroup", "whaaat:/"], ["--cgroup", "a:b:c"], ["--cgroup", "a", "--cgroup", "b"], ...(v1 ? [] : perController)];
    for (const flags of refusals) {
      const r = both(flags, ["true"]);
      expect([flags, r.ours.status]).toEqual([flags, r.theirs.status]);
      expect(r.ours.status).toBe(255);
    }
  });

  test("--ignore-paused: both wait for resume and then run the process; without it both refuse", async () => {
    expect(s.tsrun(["pause", ours]).status).toBe(0);
    expect(runc(["pause", theirs]).status).toBe(0);
    const refused = both([], ["true"]);
    expect([refused.ours.status, refused.theirs.status]).toEqual([255, 255]);
    expect(refused.ours.stderr).toContain("cannot exec in a paused container");
    expect(refused.theirs.stderr).toContain("cannot exec in a paused container");

    const start = (cmd: string, args: string[], out: string) => {
      const o = openSync(out, "w");
      const child = spawn(cmd, args, { stdio: ["ignore", o, o], env: {} });
      closeSync(o);
      return exited(child);
    };
    const outA = join(s.dir, "ip-ours.out");
    const outB = join(s.dir, "ip-theirs.out");
    const a = start(TSRUN, ["--root", s.root, "exec", "--ignore-paused", ours, "echo", "ok"], outA);
    const b = start(rc.path!, ["--root", rc.root, "exec", "--ignore-paused", theirs, "echo", "ok"], outB);
    await new Promise((r) => setTimeout(r, 1500));
    expect([readFileSync(outA, "utf8"), readFileSync(outB, "utf8")]).toEqual(["", ""]);
    expect(s.tsrun(["resume", ours]).status).toBe(0);
    expect(runc(["resume", theirs]).status).toBe(0);
    expect(await Promise.all([a, b])).toEqual([0, 0]);
    expect(readFileSync(outA, "utf8")).toBe(readFileSync(outB, "utf8"));
    expect(readFileSync(outA, "utf8")).toBe("ok\n");
  });

  test("a pid file that cannot be written: both fail with 255 and leave no process; tsrun names the file given", () => {
    const file = join(s.dir, "missing-dir", "p.pid");
    for (const detach of [[], ["--detach"]]) {
      const r = both([...detach, "--pid-file", file], ["sleep", "4343"]);
      expect([r.ours.status, r.theirs.status]).toEqual([255, 255]);
      expect(r.ours.stderr).toBe(`tsrun: ${file}: cannot write the pid file: no such file or directory\n`);
    }
    const left = (id: string, ps: (a: string[]) => { stdout: string }) =>
      (JSON.parse(ps(["ps", "--format", "json", id]).stdout) ?? []).filter((p: number) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("4343");
        } catch {
          return false;
        }
      });
    waitFor(() => (left(ours, (a) => s.tsrun(a)).length === 0 && left(theirs, runc).length === 0 ? true : undefined));
  });
});

describe("tsrun-init's JOIN_NAMESPACES record", () => {
  test("is checked before anything runs: one namespace type per path, 1 to 16 paths", async () => {
    const bad = (ints: number[], strs: string[]) => encodePlan([{ op: Op.JOIN_NAMESPACES, ints, strs }]);
    await expect(launchInit({ initPath: INIT, plan: bad([0x40000000], ["/a", "/b"]) })).rejects.toThrow(
      new InitError("bad plan: record 0 (JOIN_NAMESPACES): needs one namespace type per path"),
    );
    await expect(launchInit({ initPath: INIT, plan: bad([], []) })).rejects.toThrow("needs between 1 and 16 paths");
  });

  test("a namespace path that cannot be opened fails the plan with its name", async () => {
    const plan = encodePlan([
      { op: Op.JOIN_NAMESPACES, ints: [0x04000000, 0x40000000], strs: ["/proc/self/ns/uts", "/proc/self/ns/no-such-ns"] },
      { op: Op.EXEC, ints: [1], strs: ["/bin/true"] },
    ]);
    await expect(launchInit({ initPath: INIT, plan })).rejects.toThrow(new InitError("open namespace /proc/self/ns/no-such-ns: No such file or directory"));
  });
});

describe("what the container cannot reach of the joining process", () => {
  test("a process of the container cannot open the joining tsrun-init's /proc/<pid>/exe, fds or environ", async () => {
    // The strongest prober a container has: root of its own user namespace with CAP_SYS_PTRACE there.
    // Same user namespace and capabilities as the joining process once it has joined: only the
    // joining process being non-dumpable stands between the prober and the host's tsrun-init binary.
    // A directory the container's root (host uid 100000) can reach, to pass the pid in and the result out.
    const probe = mkdtempSync(join(tmpdir(), "tsrun-exec-probe-"));
    chmodSync(probe, 0o755);
    chownSync(probe, 100000, 100000);
    probeDirs.push(probe);
    const ALL = ["CAP_SYS_PTRACE", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"];
    const id = container(
      [
        "while :; do",
        "  if [ -f /mnt/pid ]; then",
        "    p=$(cat /mnt/pid)",
        '    { echo "comm $(cat /proc/$p/comm)"; readlink /proc/$p/exe >/dev/null 2>&1 && echo exe-open || echo exe-denied;',
        "      ls /proc/$p/fd/ >/dev/null 2>&1 && echo fd-open || echo fd-denied;",
        "      cat /proc/$p/environ >/dev/null 2>&1 && echo environ-open || echo environ-denied;",
        "      readlink /proc/1/exe; } > /mnt/result.tmp 2>&1",
        "    mv /mnt/result.tmp /mnt/result; rm -f /mnt/pid",
        "  fi",
        "  sleep 0.02",
        "done",
      ].join("\n"),
      (c) => {
        USERNS(c);
        for (const set of ["bounding", "effective", "permitted"]) c.process.capabilities[set] = ALL;
        c.mounts.push({ destination: "/mnt", type: "bind", source: probe, options: ["rbind"] });
      },
    );
    const init = initPid(id);
    const root = `/proc/${init}/root`;
    let result = "";
    let seen = -1;
    // The library's exec, holding the joining process at its sync point while the container probes it.
    const status = await execInContainer(makeContext(s.root), {
      id,
      args: ["sh", "-c", "echo joined > /tmp/joined"],
      detach: true,
      atSync: async (joining) => {
        seen = joining;
        expect(readlinkSync(`/proc/${joining}/ns/mnt`)).toBe(readlinkSync(`/proc/${init}/ns/mnt`));
        expect(readlinkSync(`/proc/${joining}/ns/user`)).toBe(readlinkSync(`/proc/${init}/ns/user`));
        const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${joining}/status`, "utf8"))![1].split(/\s+/).at(-1)!;
        writeFileSync(join(probe, "pid.tmp"), nspid);
        renameSync(join(probe, "pid.tmp"), join(probe, "pid")); // the prober never sees it half-written
        result = waitFor(() => (existsSync(join(probe, "result")) ? readFileSync(join(probe, "result"), "utf8") : undefined), 10_000);
      },
    });
    expect(status).toBe(0);
    expect(seen).toBeGreaterThan(0);
    // The prober looked at the right process, and can read the links of the container's own processes.
    expect(result).toBe("comm tsrun-init\nexe-denied\nfd-denied\nenviron-denied\n/bin/busybox\n");
    waitFor(() => (existsSync(`${root}/tmp/joined`) ? true : undefined));
    s.tsrun(["delete", "--force", id]);
  });
});

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((res) => child.once("exit", (code, signal) => res(code ?? (signal ? -1 : null))));
}
