// linux.seccomp, observed from inside the container: denied syscalls fail with the configured errno,
// allowed ones work, argument comparisons, KILL, flags, a Docker-shaped default profile, and
// SCMP_ACT_NOTIFY with a listener (test/fixtures/seccomp-listener.c) that gets the notify fd and the
// container process state.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SYSCALL_TABLES } from "../../src/security/seccomp/generated/syscalls.js";
import { Scratch, TOP, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
let listenerBin: string;
beforeAll(() => {
  ensureBuilt();
  listenerBin = join(s.dir, "seccomp-listener");
  execFileSync("gcc", ["-Wall", "-Wextra", "-Werror", "-o", listenerBin, join(TOP, "test/fixtures/seccomp-listener.c")]);
});
afterAll(() => expect(s.cleanup()).toEqual([]));

const DEFAULT_SHAPE = JSON.parse(readFileSync(join(TOP, "test/fixtures/seccomp-default-shape.json"), "utf8"));

/** `tsrun run` of a shell script under a seccomp profile; returns status and output. */
function run(script: string, seccomp: unknown, edit: (c: any) => void = () => {}) {
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    c.linux.seccomp = seccomp;
    edit(c);
  });
  return s.tsrun(["run", "--bundle", b, s.id("sc")]);
}

const nnp = (on: boolean) => (c: any) => (c.process.noNewPrivileges = on);

describe.each([true, false])("noNewPrivileges %s", (noNewPrivileges) => {
  test("a syscall under ERRNO fails with EPERM; the others work", () => {
    const r = run(
      "mkdir /dev/shm/d; echo mkdir=$?; touch /dev/shm/f && echo touched; ls /dev/shm",
      { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }] },
      nnp(noNewPrivileges),
    );
    expect(r.stdout).toBe("mkdir=1\ntouched\nf\n");
    expect(r.stderr).toBe("mkdir: can't create directory '/dev/shm/d': Operation not permitted\n");
    expect(r.status).toBe(0);
  });

  test("the Docker-shaped default profile runs a shell doing ordinary work, and refuses what it leaves out", () => {
    const r = run(
      [
        "cd /dev/shm && echo hello > f && cat f && mkdir -p a/b && mv f a/b/g && find a | sort | tr '\\n' ' ' && echo",
        "sleep 0.01 & wait $! && echo waited",
        "echo abc | sha256sum | cut -c1-8",
        "id -u; ps -o pid,comm | wc -l > /dev/null && echo ps",
        "linux32 uname -m; linux64 uname -m",
        "unshare -U true; echo unshare=$?",
      ].join("\n"),
      DEFAULT_SHAPE,
      nnp(noNewPrivileges),
    );
    expect(r.stdout).toBe("hello\na a/b a/b/g \nwaited\nedeaaff3\n0\nps\ni686\nx86_64\nunshare=1\n");
    // unshare(CLONE_NEWUSER) is not in the allow list: the default action, EPERM.
    expect(r.stderr).toMatch(/^unshare: unshare\(0x10000000\): Operation not permitted\n$/);
    expect(r.status).toBe(0);
  });
});

test("errnoRet is the errno the syscall returns", () => {
  const r = run("mkdir /dev/shm/d", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 18 }] });
  expect(r.stderr).toBe("mkdir: can't create directory '/dev/shm/d': Invalid cross-device link\n");
  expect(r.status).toBe(1);
});

test("defaultErrnoRet is what a syscall outside the profile gets", () => {
  // Every x86_64 syscall the kernel headers name is allowed, except mkdir/mkdirat.
  const names = Object.keys(SYSCALL_TABLES.x86_64).filter((n) => n !== "mkdir" && n !== "mkdirat");
  const r = run("mkdir /dev/shm/d; touch /dev/shm/f && echo touched", { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 95, syscalls: [{ names, action: "SCMP_ACT_ALLOW" }] });
  expect(r.stderr).toBe("mkdir: can't create directory '/dev/shm/d': Operation not supported\n");
  expect(r.stdout).toBe("touched\n");
});

test("argument comparison: kill is denied for SIGKILL only", () => {
  const r = run("sleep 10 & p=$!; kill -9 $p; echo kill9=$?; kill -15 $p; wait $p; echo status=$?", {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["kill"], action: "SCMP_ACT_ERRNO", args: [{ index: 1, op: "SCMP_CMP_EQ", value: 9 }] }],
  });
  expect(r.stdout).toBe("kill9=1\nstatus=143\n");
  expect(r.stderr).toMatch(/can't kill pid \d+: Operation not permitted/);
});

test("argument comparison: personality allowed only for PER_LINUX (MASKED_EQ on the low byte)", () => {
  const r = run("linux64 uname -m; linux32 uname -m; echo linux32=$?", {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: 13, args: [{ index: 0, op: "SCMP_CMP_MASKED_EQ", value: 0xff, valueTwo: 8 }] }],
  });
  expect(r.stdout).toBe("x86_64\nlinux32=1\n");
  expect(r.stderr).toMatch(/Permission denied/);
});

test.each(["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD"])("%s kills the process with SIGSYS", (action) => {
  const b = s.bundle((c) => {
    c.process.args = ["mkdir", "/dev/shm/d"];
    c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action }] };
  });
  const r = s.tsrun(["run", "--bundle", b, s.id("kill")]);
  expect(r.status).toBe(128 + 31); // SIGSYS
  expect(r.stderr).toBe("");
});

test("SCMP_ACT_LOG allows the syscall; LOG, TSYNC and SPEC_ALLOW flags are accepted", () => {
  const r = run("mkdir /dev/shm/d && echo made; rmdir /dev/shm/d; echo rmdir=$?", {
    defaultAction: "SCMP_ACT_ALLOW",
    flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    syscalls: [
      { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_LOG" },
      { names: ["rmdir"], action: "SCMP_ACT_ERRNO" },
    ],
  });
  expect(r.stdout).toBe("made\nrmdir=1\n");
  expect(r.status).toBe(0);
});

describe("bad profiles: one line naming the JSON path, nothing left behind", () => {
  test.each([
    ["unknown action", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_MAYBE" }] }, "/linux/seccomp/syscalls/0/action"],
    ["unknown arch", { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"] }, "/linux/seccomp/architectures/1"],
    ["unknown operator", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["kill"], action: "SCMP_ACT_ERRNO", args: [{ index: 1, value: 9, op: "SCMP_CMP_ABOUT" }] }] }, "/linux/seccomp/syscalls/0/args/0/op"],
    ["unknown flag", { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FAST"] }, "/linux/seccomp/flags/0"],
    ["NOTIFY without listenerPath", { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }, "/linux/seccomp/syscalls/0/action"],
  ])("%s", (_what, seccomp, field) => {
    const id = s.id("bad");
    const b = s.bundle((c) => (c.linux.seccomp = seccomp));
    const r = s.tsrun(["run", "--bundle", b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toContain(field);
    expect(s.tsrun(["state", id]).status).not.toBe(0);
  });
});

// ---- SCMP_ACT_NOTIFY -------------------------------------------------------------------------------

/** The listener fixture, with its stdout lines collected as they come. */
function startListener(sock: string, answer: string) {
  const p = spawn(listenerBin, [sock, answer], { stdio: ["pipe", "pipe", "pipe"] }) as ChildProcessWithoutNullStreams;
  const lines: string[] = [];
  let err = "";
  let pending = "";
  p.stdout.setEncoding("utf8");
  p.stdout.on("data", (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  p.stderr.on("data", (d) => (err += d));
  const exited = new Promise<number | null>((res) => p.on("exit", (code) => res(code)));
  /** Wait for a line starting with `prefix`. */
  const line = async (prefix: string, ms = 10_000): Promise<string> => {
    const end = Date.now() + ms;
    for (;;) {
      const l = lines.find((x) => x.startsWith(prefix));
      if (l !== undefined) return l;
      if (Date.now() > end) throw new Error(`listener: no "${prefix}" line; got ${JSON.stringify(lines)} ${err}`);
      await sleep(10);
    }
  };
  return { p, lines, line, exited, stop: () => p.exitCode === null && p.kill("SIGKILL") };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForFile(file: string, re: RegExp, ms = 10_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = readFileSync(file, "utf8");
    if (re.test(text)) return text;
    if (Date.now() > end) throw new Error(`${file}: no ${re} in ${JSON.stringify(text)}`);
    await sleep(10);
  }
}

test("NOTIFY: the listener gets the fd with the state; the syscall waits for its answer", async () => {
  const sock = join(s.dir, "agent.sock");
  const agent = startListener(sock, "18"); // answer EXDEV
  try {
    await agent.line("listening");
    const id = s.id("notify");
    const b = s.bundle((c) => {
      c.process.args = ["sh", "-c", "mkdir /dev/shm/d; echo after"];
      c.process.noNewPrivileges = true; // the filter is loaded at the end of create, after the user change
      c.annotations = { "org.example/a": "1" };
      c.linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        listenerPath: sock,
        listenerMetadata: "agent-meta",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }],
      };
    });
    const created = s.tsrun(["create", "--bundle", b, id]);
    expect(created.stderr).toBe("");
    expect(created.status).toBe(0);
    const pid = s.state(id).pid;
    expect(s.tsrun(["start", id]).status).toBe(0);

    const state = JSON.parse((await agent.line("state ")).slice(6));
    expect(state).toEqual({
      ociVersion: expect.any(String),
      fds: ["seccompFd"],
      pid,
      metadata: "agent-meta",
      state: { ociVersion: expect.any(String), id, status: "creating", pid, bundle: b, annotations: { "org.example/a": "1" } },
    });
    const [, notifPid, nr] = (await agent.line("notif ")).split(" ");
    expect([SYSCALL_TABLES.x86_64.mkdir, SYSCALL_TABLES.x86_64.mkdirat]).toContain(Number(nr));
    expect(Number(notifPid)).toBeGreaterThan(0);

    // The container is blocked in mkdir until the listener answers.
    await sleep(300);
    expect(readFileSync(created.outFile, "utf8")).toBe("");
    agent.p.stdin.write("go\n");
    await waitForFile(created.outFile, /after\n/);
    expect(readFileSync(created.errFile, "utf8")).toContain("mkdir: can't create directory '/dev/shm/d': Invalid cross-device link");
    await agent.line("answered");
  } finally {
    agent.stop();
    await agent.exited;
  }
});

test("NOTIFY without noNewPrivileges, with WAIT_KILLABLE_RECV and TSYNC: a listener that closes the fd makes the syscall fail with ENOSYS", async () => {
  const sock = join(s.dir, "agent2.sock");
  const agent = startListener(sock, "close");
  try {
    await agent.line("listening");
    const id = s.id("notify");
    const b = s.bundle((c) => {
      c.process.args = ["sh", "-c", "mkdir /dev/shm/d; echo after"];
      c.process.noNewPrivileges = false; // the filter is loaded during create, before the user changes
      c.linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        listenerPath: sock,
        flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"], // + NEW_LISTENER, TSYNC_ESRCH
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }],
      };
    });
    const created = s.tsrun(["create", "--bundle", b, id]);
    expect(created.status).toBe(0);
    const state = JSON.parse((await agent.line("state ")).slice(6));
    expect(state.pid).toBe(s.state(id).pid);
    expect(state).not.toHaveProperty("metadata");
    expect(s.tsrun(["start", id]).status).toBe(0);
    await agent.line("notif ");
    await sleep(200);
    expect(readFileSync(created.outFile, "utf8")).toBe("");
    agent.p.stdin.write("go\n");
    await waitForFile(created.outFile, /after\n/);
    expect(readFileSync(created.errFile, "utf8")).toContain("mkdir: can't create directory '/dev/shm/d': Function not implemented");
  } finally {
    agent.stop();
    await agent.exited;
  }
});

test("NOTIFY: a listenerPath nobody listens on fails create with the path, leaving nothing", () => {
  const id = s.id("nolistener");
  const sock = join(s.dir, "nobody.sock");
  const b = s.bundle((c) => (c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerPath: sock, syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }] }));
  const r = s.tsrun(["create", "--bundle", b, id]);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`seccomp listener ${sock}: connect: No such file or directory`);
  expect(s.tsrun(["state", id]).status).not.toBe(0);
});

describe("exec'd processes get the container's filter", () => {
  test.each([true, false])("noNewPrivileges %s: mkdir under ERRNO is refused in an exec'd shell too, by flags or --process", (noNewPrivileges) => {
    const id = s.id("scexec");
    const b = s.bundle((c) => {
      c.process.args = ["sh", "-c", "while :; do sleep 0.1; done"];
      c.process.noNewPrivileges = noNewPrivileges;
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }] };
    });
    expect(s.tsrun(["run", "-d", "--bundle", b, id]).status).toBe(0);
    const viaFlags = s.tsrun(["exec", id, "sh", "-c", "mkdir /dev/shm/e; echo mkdir=$?; touch /dev/shm/f && echo touched"]);
    expect(viaFlags.stdout).toBe("mkdir=1\ntouched\n");
    expect(viaFlags.stderr).toBe("mkdir: can't create directory '/dev/shm/e': Operation not permitted\n");
    const proc = join(s.dir, `${id}-process.json`);
    writeFileSync(proc, JSON.stringify({ user: { uid: 0, gid: 0 }, cwd: "/", args: ["mkdir", "/dev/shm/g"], env: ["PATH=/bin"], noNewPrivileges }));
    const viaFile = s.tsrun(["exec", "--process", proc, id]);
    expect(viaFile.status).toBe(1);
    expect(viaFile.stderr).toContain("Operation not permitted");
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });
});
