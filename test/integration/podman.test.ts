// tsrun under podman + conmon, every scenario of issue 7, and the same runs with runc (differential
// mode: a scenario that fails with both runtimes is the environment's, one that fails only with
// tsrun is tsrun's). SAFETY: podman runs with a private containers.conf and storage root, and inside
// a network namespace made by the test (test/helpers/podman.ts): its bridge, iptables rules and
// published ports never reach the machine's own network.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUSYBOX, IMAGE, PodmanEnv } from "../helpers/podman.js";
import { inPty } from "../helpers/pty.js";
import { TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const RUNTIMES: [string, string][] = [
  ["tsrun", TSRUN],
  ["runc", "/usr/sbin/runc"],
];


describe.each(RUNTIMES)("podman with %s", (name, runtime) => {
  let pm: PodmanEnv;
  const p = (...args: string[]) => pm.podman(args);
  const ok = (...args: string[]) => {
    const r = pm.podman(args);
    if (r.status !== 0) throw new Error(`podman ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const inspect = (id: string, fmt: string) => ok("inspect", "--format", fmt, id);

  beforeAll(() => {
    if (name === "tsrun") ensureBuilt();
    pm = new PodmanEnv(runtime);
  });
  afterAll(() => {
    expect(pm.cleanup()).toEqual([]);
  });

  test("run --rm prints the output and returns the exit status", () => {
    const r = p("run", "--rm", IMAGE, "echo", "hi");
    expect(r.stderr).toBe("");
    expect(r).toMatchObject({ status: 0, stdout: "hi\n" });
    expect(p("run", "--rm", IMAGE, "sh", "-c", "exit 7").status).toBe(7);
  });

  test("run -d, ps, logs, stop (TERM, then KILL after the timeout), rm", () => {
    const c = `d-${name}`;
    ok("run", "-d", "--name", c, IMAGE, "sh", "-c", 'trap "" TERM; echo started; while :; do sleep 0.1; done');
    expect(ok("ps", "--format", "{{.Names}} {{.Status}}")).toMatch(new RegExp(`^${c} Up`, "m"));
    for (let i = 0; i < 50 && !ok("logs", c).includes("started"); i++) spawnSync("sleep", ["0.1"]);
    expect(ok("logs", c)).toBe("started");
    const t0 = Date.now();
    ok("stop", "-t", "1", c);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1000); // TERM was ignored: podman waited, then KILLed
    expect(inspect(c, "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 137");
    // A process that honours TERM stops at once, with its own status.
    const c2 = `d2-${name}`;
    ok("run", "-d", "--name", c2, IMAGE, "sh", "-c", 'trap "exit 3" TERM; while :; do sleep 0.1; done');
    ok("stop", "-t", "10", c2);
    expect(inspect(c2, "{{.State.ExitCode}}")).toBe("3");
    ok("rm", c, c2);
    expect(ok("ps", "-a", "-q")).toBe("");
  });

  test("run -it (console socket) with a shell that reads a line and answers", () => {
    const r = inPty(pm.podmanArgv(["run", "-it", "--rm", IMAGE, "sh", "-c", 'echo ready; read x; echo "got-$x"; tty']), [{ expect: "ready", send: "hello\r" }]);
    expect(r.timedOut).toBe(false);
    expect(r.output).toContain("got-hello");
    expect(r.output).toContain("/dev/pts/0");
    expect(r.status).toBe(0);
  });

  describe("exec into a running container", () => {
    const c = `x-${name}`;
    beforeAll(() => {
      ok("run", "-d", "--name", c, IMAGE, "sh", "-c", "echo in-init > /tmp/marker; while :; do sleep 0.1; done");
    });
    afterAll(() => {
      p("rm", "-f", "-t", "0", c);
    });

    test("without a tty: output, status, the container's files", () => {
      expect(ok("exec", c, "cat", "/tmp/marker")).toBe("in-init");
      expect(p("exec", c, "sh", "-c", "exit 5").status).toBe(5);
    });

    test("--user, --env, --workdir", () => {
      expect(ok("exec", "--user", "1000:1001", c, "sh", "-c", "echo $(id -u):$(id -g)")).toBe("1000:1001");
      expect(ok("exec", "--env", "FOO=bar", c, "sh", "-c", "echo $FOO")).toBe("bar");
      expect(ok("exec", "--workdir", "/tmp", c, "pwd")).toBe("/tmp");
    });

    test("-it with a shell that reads a line and answers", () => {
      const r = inPty(pm.podmanArgv(["exec", "-it", c, "sh", "-c", 'echo ready; read x; echo "got-$x"']), [{ expect: "ready", send: "there\r" }]);
      expect(r.timedOut).toBe(false);
      expect(r.output).toContain("got-there");
      expect(r.status).toBe(0);
    });

    test("pause and unpause", () => {
      ok("pause", c);
      expect(inspect(c, "{{.State.Status}}")).toBe("paused");
      ok("unpause", c);
      expect(inspect(c, "{{.State.Status}}")).toBe("running");
      expect(ok("exec", c, "echo", "alive")).toBe("alive");
    });

    test("update --memory is seen inside", () => {
      ok("update", "--memory", "96m", c);
      expect(ok("exec", c, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")).toBe(String(96 * 1024 * 1024));
    });

    test("top and stats --no-stream", () => {
      expect(ok("top", c)).toMatch(/sleep|while/);
      const stats = ok("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", c);
      expect(stats).toMatch(new RegExp(`^${c} [0-9.]+[kMG]?i?B / `));
    });
  });

  test("run --memory 64m --cpus 0.5 --pids-limit 50: the limits are visible inside", () => {
    const out = ok(
      "run",
      "--rm",
      "--memory",
      "64m",
      "--cpus",
      "0.5",
      "--pids-limit",
      "50",
      IMAGE,
      "sh",
      "-c",
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/pids/pids.max",
    );
    expect(out.split("\n")).toEqual([String(64 * 1024 * 1024), "50000", "100000", "50"]);
  });

  test("--network none has only lo", () => {
    const out = ok("run", "--rm", "--network", "none", IMAGE, "sh", "-c", "ls /sys/class/net");
    expect(out.split(/\s+/)).toEqual(["lo"]);
  });

  test("the default bridge network, with a port published on the test's loopback", () => {
    const c = `web-${name}`;
    ok("run", "-d", "--name", c, "-p", "127.0.0.1:18080:80", IMAGE, "sh", "-c", "echo hello-from-$(hostname) > /tmp/index.html; exec httpd -f -p 80 -h /tmp");
    try {
      let got = "";
      for (let i = 0; i < 50 && !got.includes("hello"); i++) {
        got = pm.inNetns([BUSYBOX, "wget", "-q", "-O", "-", "http://127.0.0.1:18080/index.html"]).stdout;
        if (!got) spawnSync("sleep", ["0.1"]);
      }
      expect(got).toMatch(/^hello-from-/);
      expect(ok("exec", c, "sh", "-c", "ip -4 -o addr show eth0")).toContain(`inet ${pm.subnet.split(".").slice(0, 3).join(".")}.`);
    } finally {
      ok("rm", "-f", "-t", "0", c);
    }
  });

  test("a failing create: the runtime's message, exit 127, one JSON error object in the log", () => {
    const r = p("run", "--rm", IMAGE, "/no/such/cmd");
    expect(r.status).toBe(127);
    expect(r.stderr).toMatch(/no such file or directory/);
    const c = `bad-${name}`;
    const id = ok("create", "--name", c, IMAGE, "nosuchcmd");
    const s = p("start", c);
    expect(s.status).toBe(125); // podman start reports any runtime failure as 125
    expect(s.stderr).toContain("executable file not found");
    const log = readFileSync(join(pm.userdata(id), "oci-log"), "utf8").trim().split("\n");
    expect(log).toHaveLength(1);
    expect(JSON.parse(log[0])).toMatchObject({ level: "error", msg: expect.stringContaining("executable file not found") });
    ok("rm", "-f", c);
  });
});
