// The cgroup verbs on this host's layout: pause/resume (a frozen container makes no progress), the
// paused status from the kernel, ps, events, kill --all in its own and in the host's pid namespace,
// delete with lingering processes, a paused container and a crashed create. Assertions that read
// kernel files are written per layout (v1 freezer on legacy/hybrid, cgroup.freeze on unified), so the
// same file runs in the cgroup v2 VM.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CgroupSet } from "../../src/cgroups/cgroupfs.js";
import { hostHierarchies, layoutOf } from "../../src/cgroups/hierarchy.js";
import { containerPids } from "../../src/cgroups/procs.js";
import { Scratch, TSRUN, ensureBuilt, leftovers, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

const hierarchies = hostHierarchies();
const layout = layoutOf(hierarchies);

/** What the kernel says about the container's freezer, read the way this layout stores it. */
function kernelFrozen(id: string): boolean {
  if (layout === "unified") {
    const v2 = hierarchies.find((h) => h.version === 2)!;
    return /^frozen 1$/m.test(readFileSync(join(v2.mountPoint, "tsrun", id, "cgroup.events"), "utf8"));
  }
  const fr = hierarchies.find((h) => h.version === 1 && h.controllers.split(",").includes("freezer"));
  if (!fr) throw new Error(`a ${layout} host without a v1 freezer hierarchy: the pause tests cannot run here`);
  return readFileSync(join(fr.mountPoint, "tsrun", id, "freezer.state"), "utf8").trim() === "FROZEN";
}

/** No cgroup of this container frozen anywhere (a frozen leftover would hang whatever joins it). */
function anyFrozen(id: string): boolean {
  for (const h of hierarchies) {
    const dir = join(h.mountPoint, "tsrun", id);
    if (existsSync(join(dir, "freezer.state")) && readFileSync(join(dir, "freezer.state"), "utf8").trim() !== "THAWED") return true;
    if (existsSync(join(dir, "cgroup.freeze")) && readFileSync(join(dir, "cgroup.freeze"), "utf8").trim() === "1") return true;
  }
  return false;
}

/** Leftovers of one container (the state root is shared by this file's other containers). */
const leaksOf = (id: string) => leftovers(s.root, [id]).filter((l) => !l.startsWith("state dir") || l.endsWith(`/${id}`));

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));

/** Create and start a container running `script`; its pid. `hostPid`: no pid namespace. */
function started(id: string, script: string, opts: { hostPid?: boolean } = {}): number {
  const bundle = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    c.mounts.push({ destination: "/work", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "size=1m"] });
    if (opts.hostPid) c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "pid");
  });
  const c = s.tsrun(["create", "--bundle", bundle, id]);
  expect(c.stderr).toBe("");
  expect(c.status).toBe(0);
  expect(s.tsrun(["start", id]).status).toBe(0);
  return s.state(id).pid;
}

const status = (id: string) => s.state(id).status as string;

test(`layout is known (${layout}): the assertions below are written for it`, () => {
  expect(["unified", "legacy", "hybrid"]).toContain(layout);
});

test("pause freezes (no progress, state and list say paused), resume thaws; wrong-state calls are refused", () => {
  const id = s.id("pause");
  const pid = started(id, "i=0; while true; do i=$((i+1)); echo $i > /work/n; sleep 0.01; done");
  const counter = () => Number(readFileSync(`/proc/${pid}/root/work/n`, "utf8").trim() || 0);
  waitFor(() => (existsSync(`/proc/${pid}/root/work/n`) && counter() > 2 ? true : undefined));

  expect(s.tsrun(["resume", id])).toMatchObject({ status: 1, stderr: expect.stringContaining("not paused") });
  const p = s.tsrun(["pause", id]);
  expect(p.stderr).toBe("");
  expect(p.status).toBe(0);
  expect(kernelFrozen(id)).toBe(true);
  expect(status(id)).toBe("paused");
  const list = JSON.parse(s.tsrun(["list", "--format", "json"]).stdout) as { id: string; status: string }[];
  expect(list.find((c) => c.id === id)?.status).toBe("paused");
  expect(s.tsrun(["pause", id])).toMatchObject({ status: 1, stderr: expect.stringContaining("already paused") });

  const before = counter();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  expect(counter()).toBe(before);

  // TERM to a paused container stays pending: it is still paused and alive afterwards.
  expect(s.tsrun(["kill", id, "TERM"]).status).toBe(0);
  expect(status(id)).toBe("paused");

  expect(s.tsrun(["resume", id]).status).toBe(0);
  expect(kernelFrozen(id)).toBe(false);
  // The pending TERM lands on resume: sh as pid 1 has no handler, so it ignores TERM and runs on.
  waitFor(() => (counter() > before ? true : undefined));
  expect(status(id)).toBe("running");

  expect(s.tsrun(["kill", id, "KILL"]).status).toBe(0);
  waitFor(() => (status(id) === "stopped" ? true : undefined));
  expect(s.tsrun(["pause", id])).toMatchObject({ status: 1, stderr: expect.stringContaining("container not running") });
  expect(s.tsrun(["delete", id]).status).toBe(0);
});

test("ps: JSON is the bare array of the container's host pids; the table keeps only their lines", () => {
  const id = s.id("ps");
  const pid = started(id, "sleep 1000 & sleep 1001 & wait");
  const want = waitFor(() => {
    const p = containerPids(`/tsrun/${id}`);
    return p.length === 3 ? p : undefined;
  });
  expect(want).toContain(pid);
  const j = s.tsrun(["ps", "--format", "json", id]);
  expect(j.status).toBe(0);
  expect(j.stdout).toBe(`${JSON.stringify(want)}\n`);

  const t = s.tsrun(["ps", id]);
  expect(t.stderr).toBe("");
  const [header, ...rows] = t.stdout.trimEnd().split("\n");
  expect(header).toMatch(/\bPID\b/);
  const col = header.trim().split(/\s+/).indexOf("PID");
  expect(rows.map((r) => Number(r.trim().split(/\s+/)[col])).sort((a, b) => a - b)).toEqual(want);
  expect(rows.join("\n")).toMatch(/sleep 1001/);

  const custom = s.tsrun(["ps", id, "--", "-o", "pid,args"]);
  expect(custom.stdout.split("\n")[0].trim()).toBe("PID COMMAND");
  expect(custom.stdout.trimEnd().split("\n")).toHaveLength(4);

  expect(s.tsrun(["ps", "nosuch"])).toMatchObject({ status: 1, stderr: expect.stringContaining("does not exist") });
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test("events --stats prints one runc stats line with cpu, memory and pids numbers", () => {
  const id = s.id("stats");
  started(id, "while true; do sleep 0.01; done");
  // cgroup v2 flushes its cpu counters lazily: a fresh container may read 0 for a moment.
  const r = waitFor(() => {
    const x = s.tsrun(["events", "--stats", id]);
    return x.status !== 0 || JSON.parse(x.stdout.split("\n")[0]).data.cpu.usage.total > 0 ? x : undefined;
  }, 20_000);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const lines = r.stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  const e = JSON.parse(lines[0]);
  expect(e).toMatchObject({ type: "stats", id });
  expect(e.data.cpu.usage.total).toBeGreaterThan(0);
  expect(typeof e.data.cpu.usage.user).toBe("number");
  expect(e.data.memory.usage.usage).toBeGreaterThan(0);
  expect(e.data.pids.current).toBeGreaterThanOrEqual(1);
  expect(e.data).toHaveProperty("blkio");
  expect(e.data).toHaveProperty("hugetlb");
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  expect(s.tsrun(["events", "--stats", id])).toMatchObject({ status: 1, stderr: expect.stringContaining("does not exist") });
});

test("events streams stats at the interval and ends when the container stops", async () => {
  const id = s.id("stream");
  // The container runs until the test has seen two stats lines, then is killed: events must end.
  started(id, "while true; do sleep 0.05; done");
  const child = spawn(TSRUN, ["--root", s.root, "events", "--interval", "200ms", id], { env: {}, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let killed = false;
  child.stdout.on("data", (d) => {
    out += d;
    if (!killed && out.split("\n").filter(Boolean).length >= 2) {
      killed = true;
      s.tsrun(["kill", id, "KILL"]);
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`events did not end after the container stopped; output so far: ${out}`));
    }, 60_000);
    child.on("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  expect(code).toBe(0);
  const events = out.trimEnd().split("\n").map((l) => JSON.parse(l));
  expect(events.length).toBeGreaterThanOrEqual(2);
  for (const e of events) expect(e).toMatchObject({ type: "stats", id, data: { pids: expect.any(Object) } });
  expect(s.tsrun(["delete", id]).status).toBe(0);
});

describe.each([
  ["its own pid namespace", false],
  ["the host's pid namespace", true],
])("kill --all in %s", (_name, hostPid) => {
  test("reaches every process, including ones that ignore TERM", () => {
    const id = s.id(hostPid ? "killall-host" : "killall-own");
    // The children ignore TERM; in the host pid namespace they outlive the init unless signalled too.
    started(id, "trap '' TERM; (trap '' TERM; sleep 1000) & (trap '' TERM; sleep 1001) & sleep 1002", { hostPid });
    const pids = waitFor(() => {
      const p = containerPids(`/tsrun/${id}`);
      return p.length >= 3 ? p : undefined; // the two subshells (or their sleeps) and sleep 1002 (sh execs it)
    });
    expect(s.tsrun(["kill", "--all", id, "KILL"]).status).toBe(0);
    waitFor(() => (pids.every((p) => !alive(p)) ? true : undefined));
    waitFor(() => (status(id) === "stopped" ? true : undefined));
    expect(containerPids(`/tsrun/${id}`)).toEqual([]);
    expect(anyFrozen(id)).toBe(false);
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });
});

/** A container in the host's pid namespace whose init was killed: stopped, with a child left in its cgroup. */
function stoppedWithChild(id: string): number {
  const init = started(id, "(trap '' TERM; sleep 1000) & wait", { hostPid: true });
  const child = waitFor(() => containerPids(`/tsrun/${id}`).find((p) => p !== init && /sleep/.test(readFileSync(`/proc/${p}/cmdline`, "utf8"))));
  expect(s.tsrun(["kill", id, "KILL"]).status).toBe(0);
  waitFor(() => (status(id) === "stopped" ? true : undefined));
  expect(alive(child)).toBe(true); // the init is gone, its child is not
  return child;
}

test("delete of a stopped container in the host pid namespace kills its lingering children", () => {
  const id = s.id("linger");
  const child = stoppedWithChild(id);
  const d = s.tsrun(["delete", id]);
  expect(d.stderr).toBe("");
  expect(d.status).toBe(0);
  expect(alive(child)).toBe(false);
  expect(leaksOf(id)).toEqual([]);
});

test("kill --all of a stopped container ends what its init left in the cgroup (containerd's shim calls it after every exit)", () => {
  const id = s.id("killall-stopped");
  const child = stoppedWithChild(id);
  // Without --all there is no init to signal: runc's error.
  expect(s.tsrun(["kill", id, "KILL"])).toMatchObject({ status: 1, stderr: expect.stringContaining("container not running") });
  expect(s.tsrun(["kill", "--all", id, "KILL"])).toMatchObject({ status: 0, stderr: "" });
  waitFor(() => (alive(child) ? undefined : true));
  // Called again with nothing left: still success, as the shim expects.
  expect(s.tsrun(["kill", "--all", id, "KILL"])).toMatchObject({ status: 0, stderr: "" });
  expect(anyFrozen(id)).toBe(false);
  expect(s.tsrun(["delete", id]).status).toBe(0);
  expect(leaksOf(id)).toEqual([]);
});

test("kill --all of a stopped container never signals the recorded pid, which may be another process's by now", () => {
  const id = s.id("killall-reused");
  started(id, "exec sleep 1000");
  expect(s.tsrun(["kill", id, "KILL"]).status).toBe(0);
  waitFor(() => (status(id) === "stopped" ? true : undefined));
  const other = spawn("sleep", ["1000"], { stdio: "ignore" });
  try {
    const file = join(s.root, id, "state.json");
    writeFileSync(file, readFileSync(file, "utf8").replace(/"pid":\d+/, `"pid":${other.pid}`));
    expect(status(id)).toBe("stopped"); // another start time: not the init
    expect(s.tsrun(["kill", "--all", id, "KILL"]).status).toBe(0);
    expect(s.tsrun(["kill", "--all", id, "0"]).status).toBe(0);
    expect(alive(other.pid!)).toBe(true);
  } finally {
    other.kill("SIGKILL");
  }
  expect(s.tsrun(["delete", id]).status).toBe(0);
});

test("delete --force of a paused container thaws, kills and leaves nothing", () => {
  const id = s.id("paused-rm");
  const pid = started(id, "trap '' TERM; sleep 1000 & wait");
  expect(s.tsrun(["pause", id]).status).toBe(0);
  expect(status(id)).toBe("paused");
  const d = s.tsrun(["delete", "--force", id]);
  expect(d.stderr).toBe("");
  expect(d.status).toBe(0);
  expect(alive(pid)).toBe(false);
  expect(anyFrozen(id)).toBe(false);
  expect(leaksOf(id)).toEqual([]);
});

test("kill KILL of a paused container stops it (the cgroup is thawed so the signal takes effect)", () => {
  const id = s.id("paused-kill");
  started(id, "while true; do sleep 0.01; done");
  expect(s.tsrun(["pause", id]).status).toBe(0);
  expect(s.tsrun(["kill", id, "KILL"]).status).toBe(0);
  waitFor(() => (status(id) === "stopped" ? true : undefined));
  expect(anyFrozen(id)).toBe(false);
  expect(s.tsrun(["delete", id]).status).toBe(0);
});

test("a crashed create (state 'creating', creator dead, a process in the cgroup): delete --force cleans it all", () => {
  const id = s.id("crashed");
  const cgroupPath = `/tsrun/${id}`;
  const set = new CgroupSet(cgroupPath);
  const made = set.create();
  // A stand-in for an init the dead create left behind, moved into the cgroup.
  const orphan = spawn("/bin/sleep", ["1000"], { stdio: "ignore" });
  set.join(orphan.pid!);
  const dead = spawnSync("/bin/true");
  mkdirSync(join(s.root, id), { recursive: true });
  writeFileSync(
    join(s.root, id, "state.json"),
    JSON.stringify({
      ociVersion: "1.2.0", id, bundle: s.dir, rootfs: "", created: new Date().toISOString(), owner: "root", annotations: {},
      status: "creating", pid: 0, pidStartTime: 0, creatorPid: dead.pid, creatorStartTime: 1, cgroupPath, cgroupCreated: made, hasProcess: true,
    }),
  );
  expect(status(id)).toBe("stopped");
  const d = s.tsrun(["delete", "--force", id]);
  expect(d.stderr).toBe("");
  expect(d.status).toBe(0);
  // delete waited for its exit: it is a zombie now (this test is its parent and has not reaped it).
  expect(alive(orphan.pid!)).toBe(false);
  expect(leaksOf(id)).toEqual([]);
});
