// The lifecycle through the CLI, as a person or a manager drives it: create, state, start, kill,
// delete, run, list, with real namespaces, checked from inside the container and from the host.
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { Scratch, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

/** A container that loops until TERM, writing a line when it starts. */
function looping(extra: (c: any) => void = () => {}) {
  return s.bundle((c) => {
    c.process.args = ["sh", "-c", 'echo started; trap "echo got-term; exit 3" TERM; while true; do sleep 0.05; done'];
    extra(c);
  });
}

test("the demo bundle runs and reports PID 1, its hostname and its own processes", () => {
  const r = s.tsrun(["run", "--bundle", join(__top(), "bundles/busybox"), s.id("demo")]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/pid: 1\b/);
  expect(r.stdout).toMatch(/hostname: tsrun-demo/);
});

function __top() {
  return join(new URL(".", import.meta.url).pathname, "../..");
}

test("create, state, start, kill, delete: the full lifecycle", () => {
  const id = s.id("life");
  const pidFile = join(s.dir, `${id}.pid`);
  const bundle = looping();
  const c = s.tsrun(["create", "--bundle", bundle, "--pid-file", pidFile, id]);
  expect(c.stderr).toBe("");
  expect(c.status).toBe(0);

  const st = s.state(id);
  expect(Object.keys(st).sort()).toEqual(["annotations", "bundle", "created", "id", "ociVersion", "owner", "pid", "rootfs", "status"]);
  expect(st).toMatchObject({ id, status: "created", bundle });
  // The pid file holds the pid with no newline (containerd parses it with Atoi).
  expect(readFileSync(pidFile, "utf8")).toBe(String(st.pid));
  // The process holding a created container is tsrun-init itself, small, and already in its cgroup.
  const status = readFileSync(`/proc/${st.pid}/status`, "utf8");
  expect(readlinkSync(`/proc/${st.pid}/exe`)).toMatch(/tsrun-init$/);
  expect(Number(/VmRSS:\s+(\d+)/.exec(status)![1])).toBeLessThan(1024);
  expect(readFileSync(`/proc/${st.pid}/cgroup`, "utf8")).toContain(`/tsrun/${id}`);
  // Nothing of the user process ran yet.
  expect(c.stdout).toBe("");

  const start = s.tsrun(["start", id]);
  expect(start.stderr).toBe("");
  expect(start.status).toBe(0);
  expect(s.state(id).status).toBe("running");

  expect(s.tsrun(["kill", id, "TERM"]).status).toBe(0);
  const stopped = waitFor(() => {
    const x = s.state(id);
    return x.status === "stopped" ? x : undefined;
  });
  expect(stopped.pid).toBe(0);

  const d = s.tsrun(["delete", id]);
  expect(d.stderr).toBe("");
  expect(d.status).toBe(0);
  expect(s.tsrun(["state", id]).status).not.toBe(0);
  expect(existsSync(join(s.root, id))).toBe(false);
  expect(existsSync(`/sys/fs/cgroup/pids/tsrun/${id}`)).toBe(false);
});

test("the container's output goes to the stdio of create, and start prints nothing", () => {
  const id = s.id("stdio");
  const bundle = s.bundle((c) => (c.process.args = ["sh", "-c", "echo to-stdout; echo to-stderr >&2"]));
  const c = s.tsrun(["create", "--bundle", bundle, id]);
  expect(c.status).toBe(0);
  const start = s.tsrun(["start", id]);
  expect(start.stdout + start.stderr).toBe("");
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  // The create's stdout/stderr received the process's output.
  expect(readFileSync(c.outFile, "utf8")).toBe("to-stdout\n");
  expect(readFileSync(c.errFile, "utf8")).toBe("to-stderr\n");
  expect(s.tsrun(["delete", id]).status).toBe(0);
});

test("run exits with the process's status, and 128+N when signal N killed it", async () => {
  const seven = s.bundle((c) => (c.process.args = ["sh", "-c", "exit 7"]));
  expect(s.tsrun(["run", "--bundle", seven, s.id("seven")]).status).toBe(7);
  // A PID 1 cannot be killed from inside its own namespace: kill it from the host while run waits.
  const id = s.id("nine");
  const run = spawn(TSRUN, ["--root", s.root, "run", "--bundle", looping(), id], { env: {}, stdio: "ignore" });
  const exited = new Promise<number | null>((res) => run.on("exit", (code) => res(code)));
  await waitForAsync(() => existsSync(join(s.root, id, "state.json")) && s.state(id).status === "running");
  expect(s.tsrun(["kill", id, "KILL"]).status).toBe(0);
  expect(await exited).toBe(137);
  // run deleted the container after it exited.
  expect(existsSync(join(s.root, id))).toBe(false);
});

test("run passes SIGTERM on to the container and exits with its status", async () => {
  const id = s.id("fwd");
  const run = spawn(TSRUN, ["--root", s.root, "run", "--bundle", looping(), id], { env: {}, stdio: "ignore" });
  const exited = new Promise<number | null>((res) => run.on("exit", (code) => res(code)));
  await waitForAsync(() => existsSync(join(s.root, id, "state.json")) && s.state(id).status === "running");
  run.kill("SIGTERM");
  // The container's trap exits 3 on TERM.
  expect(await exited).toBe(3);
});

async function waitForAsync(fn: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("run --detach leaves a running container; --keep keeps a stopped one", () => {
  const id = s.id("detach");
  const r = s.tsrun(["run", "--detach", "--bundle", looping(), id]);
  expect(r.status).toBe(0);
  expect(s.state(id).status).toBe("running");
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  expect(existsSync(join(s.root, id))).toBe(false);

  const kept = s.id("keep");
  expect(s.tsrun(["run", "--keep", "--bundle", s.bundle(), kept]).status).toBe(0);
  expect(s.state(kept).status).toBe("stopped");
  expect(s.tsrun(["delete", kept]).status).toBe(0);
});

test("a stopped container is seen as stopped with nobody waiting on it", () => {
  const id = s.id("orphan");
  expect(s.tsrun(["run", "--detach", "--bundle", s.bundle((c) => (c.process.args = ["sh", "-c", "sleep 0.2"])), id]).status).toBe(0);
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  expect(s.tsrun(["delete", id]).status).toBe(0);
});

test("list shows containers as a table and as JSON", () => {
  const id = s.id("list");
  expect(s.tsrun(["create", "--bundle", looping(), id]).status).toBe(0);
  const table = s.tsrun(["list"]);
  expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
  expect(table.stdout).toMatch(new RegExp(`^${id}\\s+\\d+\\s+created\\s`, "m"));
  const json = JSON.parse(s.tsrun(["list", "--format", "json"]).stdout);
  expect(json.find((x: any) => x.id === id)).toMatchObject({ id, status: "created" });
  expect(s.tsrun(["list", "-q"]).stdout.split("\n")).toContain(id);
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test("kill takes signal names and numbers, and --all signals the whole cgroup", () => {
  const id = s.id("sig");
  const bundle = s.bundle((c) => {
    c.process.args = ["sh", "-c", 'trap "echo usr1 >> /tmp/log" USR1; sleep 1000 & while true; do sleep 0.05; done'];
    c.root.readonly = false;
    c.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid"] });
  });
  expect(s.tsrun(["run", "--detach", "--bundle", bundle, id]).status).toBe(0);
  const pid = s.state(id).pid;
  // Standard signals do not queue: send each only after the previous one was handled.
  ["USR1", "SIGUSR1", "10"].forEach((sig, i) => {
    expect(s.tsrun(["kill", id, sig]).status).toBe(0);
    waitFor(() => {
      try {
        return readFileSync(`/proc/${pid}/root/tmp/log`, "utf8").split("\n").length >= i + 2 ? true : undefined;
      } catch {
        return undefined;
      }
    });
  });
  const bad = s.tsrun(["kill", id, "NOPE"]);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toMatch(/invalid signal "NOPE"/);
  expect(s.tsrun(["kill", "--all", id, "KILL"]).status).toBe(0);
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  expect(s.tsrun(["delete", id]).status).toBe(0);
});
