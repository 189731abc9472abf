// tsrun under containerd's runc v2 shim (ctr run --runc-binary), every scenario of issue 7, and the
// same runs with runc (differential mode). The containerd is private to the test (own socket, root and
// state dirs, CRI off: test/helpers/containerd.ts), started and stopped by pid; the image is an OCI
// archive made from the busybox rootfs.
import { spawnSync } from "node:child_process";
import { CTR_IMAGE, ContainerdEnv } from "../helpers/containerd.js";
import { inPty } from "../helpers/pty.js";
import { TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const RUNTIMES: [string, string][] = [
  ["tsrun", TSRUN],
  ["runc", "/usr/sbin/runc"],
];


const sleep = (ms: number) => spawnSync("sleep", [String(ms / 1000)]);

describe.each(RUNTIMES)("containerd with %s", (name, runtime) => {
  let cd: ContainerdEnv;
  const ctr = (...args: string[]) => cd.ctr(args);
  const ok = (...args: string[]) => {
    const r = cd.ctr(args);
    if (r.status !== 0) throw new Error(`ctr ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** The task's status as `ctr task ls` shows it (RUNNING, PAUSED, STOPPED), or "" when there is none. */
  const status = (id: string) => {
    const line = ok("tasks", "ls").split("\n").find((l) => l.split(/\s+/)[0] === id);
    return line ? line.split(/\s+/)[2] : "";
  };
  const waitStatus = (id: string, want: string) => {
    for (let i = 0; i < 100 && status(id) !== want; i++) sleep(50);
    return status(id);
  };
  const runD = (id: string, ...cmd: string[]) => ok("run", "-d", "--runc-binary", runtime, CTR_IMAGE, id, ...cmd);
  const LOOP = ["sh", "-c", 'trap "exit 0" TERM; echo in-init > /tmp/marker; while :; do sleep 0.1; done'];

  beforeAll(async () => {
    if (name === "tsrun") ensureBuilt();
    cd = new ContainerdEnv(runtime);
    await cd.start();
  });
  afterAll(async () => {
    expect(await cd.cleanup()).toEqual([]);
  });

  test("run --rm prints the output", () => {
    const r = ctr("run", "--rm", "--runc-binary", runtime, CTR_IMAGE, `hi-${name}`, "echo", "hi");
    expect(r).toMatchObject({ status: 0, stdout: "hi\n" });
  });

  test("run -d, task kill, task delete", () => {
    const id = `d-${name}`;
    runD(id, ...LOOP);
    expect(waitStatus(id, "RUNNING")).toBe("RUNNING");
    ok("task", "kill", id);
    expect(waitStatus(id, "STOPPED")).toBe("STOPPED");
    ok("task", "delete", id);
    expect(status(id)).toBe("");
    ok("containers", "rm", id);
  });

  describe("a running task", () => {
    const id = `x-${name}`;
    beforeAll(() => {
      runD(id, ...LOOP);
      waitStatus(id, "RUNNING");
    });
    afterAll(() => {
      ctr("task", "rm", "-f", id);
      ctr("containers", "rm", id);
    });

    test("task exec without a tty", () => {
      let out = "";
      for (let i = 0; i < 50 && out !== "in-init"; i++) out = ok("task", "exec", "--exec-id", `e${i}`, id, "cat", "/tmp/marker");
      expect(out).toBe("in-init");
      expect(ctr("task", "exec", "--exec-id", "st", id, "sh", "-c", "exit 4").status).toBe(4);
    });

    test("task exec -t with a shell that reads a line and answers", () => {
      const r = inPty(cd.ctrArgv(["task", "exec", "-t", "--exec-id", "tty1", id, "sh", "-c", 'echo ready; read x; echo "got-$x"; tty']), [{ expect: "ready", send: "hey\r" }]);
      expect(r.timedOut).toBe(false);
      expect(r.output).toContain("got-hey");
      expect(r.output).toMatch(/\/dev\/pts\/\d/);
      expect(r.status).toBe(0);
    });

    test("task ps lists the task's processes (ps --format json)", () => {
      const pid = ok("tasks", "ls").split("\n").find((l) => l.startsWith(id))!.split(/\s+/)[1];
      expect(ok("task", "ps", id)).toMatch(new RegExp(`^${pid}\\b`, "m"));
    });

    test("task pause and resume", () => {
      ok("task", "pause", id);
      expect(status(id)).toBe("PAUSED");
      ok("task", "resume", id);
      expect(status(id)).toBe("RUNNING");
    });
  });

  test("task kill --all", () => {
    const id = `k-${name}`;
    runD(id, "sh", "-c", "sleep 1000 & sleep 1000");
    expect(waitStatus(id, "RUNNING")).toBe("RUNNING");
    ok("task", "kill", "--all", "--signal", "SIGKILL", id);
    expect(waitStatus(id, "STOPPED")).toBe("STOPPED");
    ok("task", "delete", id);
    ok("containers", "rm", id);
  });

  test("task rm -f of a running task", () => {
    const id = `f-${name}`;
    runD(id, "sleep", "1000");
    expect(waitStatus(id, "RUNNING")).toBe("RUNNING");
    ok("task", "rm", "-f", id);
    expect(status(id)).toBe("");
    ok("containers", "rm", id);
  });

  test("a failing create: ctr shows the runtime's last JSON error", () => {
    const r = ctr("run", "--rm", "--runc-binary", runtime, CTR_IMAGE, `bad-${name}`, "nosuchcmd");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('exec: "nosuchcmd": executable file not found in $PATH');
    ctr("containers", "rm", `bad-${name}`);
  });
});
