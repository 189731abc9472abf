// Crash at any point: the CLI is SIGKILLed at every named point of create, start, delete and run (the test
// build bin/tsrun-faults, TSRUN_FAULT=<verb>:<point>, see src/lifecycle/faults.ts), and the container
// init is killed at its sync and while it waits on the exec fifo. Afterwards `state` answers valid
// JSON with a legal status (or a clear error), `delete --force` and `list` succeed, and nothing of
// the container remains: state dir (lock, overlay upper, /etc files), address lease, cgroup,
// veth, process, mount. The container has overlay layers, a memory limit and a veth on a bridge.
//
// Adding a verb (exec, issue 6): put its points in CRASH_POINTS (faults.ts), call crashPoint() at
// them, and add one entry to VERBS below that prepares the container and gives the verb's arguments.
import { readFileSync } from "node:fs";
import { CRASH_POINTS, INIT_KILL_POINTS } from "../../src/lifecycle/faults.js";
import { Rig, checkState, ensureRelBuilt, oneErrorLine } from "../helpers/reliability.js";
import { waitFor } from "../helpers/tsrun.js";

let rig: Rig;
beforeAll(() => {
  ensureRelBuilt();
  rig = new Rig();
});
afterAll(() => expect(rig.finish()).toEqual([]));

const SCRIPT = "trap '' TERM; sleep 1000";

function create(id: string): void {
  const r = rig.call(["create", "--bundle", rig.fullBundle(SCRIPT), id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
}

/** After a crash: state is sane, delete --force and list succeed, and nothing is left. */
function expectRecoverable(id: string): void {
  const st = rig.call(["state", id]);
  // The directory may already be gone (delete killed after removing it): "does not exist" is right then.
  if (st.status !== 0) expect(st.stderr).toMatch(/^tsrun: container \S+ does not exist\n$/);
  else expect(checkState(st)).toEqual(expect.objectContaining({ ok: true }));
  const del = rig.call(["delete", "--force", id]);
  expect(del.stderr).toBe("");
  expect(del.status).toBe(0);
  const list = rig.call(["list", "--format", "json"]);
  expect(list.status).toBe(0);
  expect(JSON.parse(list.stdout).map((c: { id: string }) => c.id)).not.toContain(id);
  expect(rig.leaks([id])).toEqual([]);
}

/** Each verb: how to bring a container to where the verb applies, and the verb's arguments. */
const VERBS: { verb: keyof typeof CRASH_POINTS; prepare: (id: string) => void; args: (id: string) => string[] }[] = [
  { verb: "create", prepare: () => {}, args: (id) => ["create", "--bundle", rig.fullBundle(SCRIPT), "--pid-file", `${rig.dir}/${id}.pid`, id] },
  { verb: "start", prepare: create, args: (id) => ["start", id] },
  {
    verb: "delete",
    prepare: (id) => {
      create(id);
      expect(rig.call(["start", id]).status).toBe(0);
    },
    args: (id) => ["delete", "--force", id],
  },
  // Killed while it waits for the process, or right after it exited (before its delete).
  { verb: "run", prepare: () => {}, args: (id) => ["run", "--bundle", rig.fullBundle("sleep 0.3"), id] },
  // Killed holding the container's lock, with the joining process at its sync, or once it runs.
  {
    verb: "exec",
    prepare: (id) => {
      create(id);
      expect(rig.call(["start", id]).status).toBe(0);
    },
    args: (id) => ["exec", "--pid-file", `${rig.dir}/${id}.exec.pid`, id, "sleep", "1000"],
  },
];

const cases = VERBS.flatMap((v) => CRASH_POINTS[v.verb].map((point) => [v.verb, point, v] as const));

test.each(cases)("%s SIGKILLed at %s: delete --force cleans up", (verb, point, v) => {
  const id = rig.id(`${verb}-${point}`);
  v.prepare(id);
  const r = rig.call(v.args(id), { fault: `${verb}:${point}` });
  expect(r.signal).toBe("SIGKILL");
  expectRecoverable(id);
});

test.each(INIT_KILL_POINTS.create.map((p) => [p]))("the init killed at its sync (%s): create fails with one line and leaves nothing", (point) => {
  const id = rig.id(`init-${point}`);
  const r = rig.call(["create", "--bundle", rig.fullBundle(SCRIPT), id], { fault: `kill-init:create:${point}` });
  expect(r.status).toBe(1);
  expect(oneErrorLine(r.stderr)).toBe(true);
  expect(rig.leaks([id])).toEqual([]);
  expect(rig.call(["state", id]).stderr).toMatch(/does not exist/);
});

test("the init killed while it waits on the exec fifo: stopped, start fails clearly, delete (no --force) cleans up", () => {
  const id = rig.id("fifo-kill");
  create(id);
  const pid = JSON.parse(rig.call(["state", id]).stdout).pid;
  expect(pid).toBeGreaterThan(0);
  process.kill(pid, "SIGKILL");
  // kill(2) returns before the target has died: wait until it is a zombie (or reaped).
  waitFor(() => {
    try {
      return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")) ? true : undefined;
    } catch {
      return true;
    }
  });
  // Until the subreaper reaps it the init is a zombie, which counts as exited.
  const st = checkState(rig.call(["state", id]));
  expect(st.status).toBe("stopped");
  const start = rig.call(["start", id]);
  expect(start.status).not.toBe(0);
  expect(oneErrorLine(start.stderr)).toBe(true);
  expect(start.stderr).toMatch(/has stopped|exited before starting/);
  const del = rig.call(["delete", id]);
  expect(del.stderr).toBe("");
  expect(del.status).toBe(0);
  expect(rig.leaks([id])).toEqual([]);
});

test("the crash points are real: without a fault the same calls succeed", () => {
  const id = rig.id("nofault");
  create(id);
  expect(rig.call(["start", id], { fault: "none" }).status).toBe(0);
  expect(checkState(rig.call(["state", id])).status).toBe("running");
  expect(rig.call(["delete", "--force", id], { fault: "none" }).status).toBe(0);
  expect(rig.leaks([id])).toEqual([]);
});
