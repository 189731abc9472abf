// Hostile processes, hostile /etc files of a networked rootfs, and a damaged state root. For each:
// `state` answers (valid JSON with a legal status, or one clear line), `kill` and `delete --force`
// work, and nothing of the container remains.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statfsSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rig, checkState, ensureRelBuilt, oneErrorLine } from "../helpers/reliability.js";
import { waitFor } from "../helpers/tsrun.js";

let rig: Rig;
beforeAll(() => {
  ensureRelBuilt();
  rig = new Rig();
});
afterAll(() => expect(rig.finish()).toEqual([]));

/** `run --detach` of a busybox bundle running `script`; returns the id. */
function detached(name: string, script: string, edit: (c: any) => void = () => {}): string {
  const id = rig.id(name);
  const r = rig.call(["run", "--detach", "--bundle", rig.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    edit(c);
  }), id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return id;
}

function status(id: string): string | undefined {
  const st = checkState(rig.call(["state", id]));
  expect(st).toEqual(expect.objectContaining({ ok: true }));
  return st.status;
}

function forceDelete(id: string): void {
  const r = rig.call(["delete", "--force", id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(rig.leaks([id])).toEqual([]);
}

const noPidNs = (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "pid"));
const pidsMaxEvents = (id: string) => Number(/^max (\d+)/m.exec(readFileSync(`/sys/fs/cgroup/pids/tsrun/${id}/pids.events`, "utf8"))?.[1] ?? 0);

describe("hostile processes", () => {
  test.each([
    ["in its own pid namespace", (c: any) => c],
    ["in the host's pid namespace", noPidNs],
  ])("a fork bomb at its pids limit (%s): state, kill and delete --force work", (_what, ns) => {
    // Each copy forks copies in a loop; busybox sh exits when a fork fails, and the others refill
    // the cgroup at once. The init only starts it and becomes a sleep.
    const id = detached("forkbomb", "exec 2>/dev/null; b() { while :; do b & done; }; b & exec sleep 1000", (c) => {
      c.linux.resources = { pids: { limit: 32 } };
      ns(c);
    });
    // The kernel counts the forks the limit refused: the bomb has hit it.
    waitFor(() => (pidsMaxEvents(id) > 0 ? true : undefined), 10_000);
    expect(status(id)).toBe("running");
    expect(rig.call(["kill", id, "KILL"]).status).toBe(0);
    forceDelete(id);
  });

  test("closed stdin, stdout and stderr: state, kill and delete --force work", () => {
    const id = detached("nostdio", "exec 0<&- 1>&- 2>&-; sleep 1000");
    expect(status(id)).toBe("running");
    expect(rig.call(["kill", id, "KILL"]).status).toBe(0);
    waitFor(() => (status(id) === "stopped" ? true : undefined));
    forceDelete(id);
  });

  test("SIGTERM ignored: kill TERM succeeds but it keeps running; delete --force kills it", () => {
    const id = detached("noterm", "trap '' TERM; while :; do sleep 1; done");
    const k = rig.call(["kill", id, "TERM"]);
    expect(k.status).toBe(0);
    expect(status(id)).toBe("running");
    forceDelete(id);
  });

  test("the init double-forks and exits (no pid namespace): stopped, and plain delete kills the orphan", () => {
    const id = detached("dblfork", "(sleep 1000 &) ; exit 0", noPidNs);
    waitFor(() => (status(id) === "stopped" ? true : undefined));
    // The grandchild is still alive, in the container's cgroup.
    expect(readFileSync(`/sys/fs/cgroup/pids/tsrun/${id}/cgroup.procs`, "utf8").trim()).not.toBe("");
    const del = rig.call(["delete", id]);
    expect(del.stderr).toBe("");
    expect(del.status).toBe(0);
    expect(rig.leaks([id])).toEqual([]);
  });

  test("a full tmpfs: state, kill and delete --force work", () => {
    const id = detached("tmpfull", "dd if=/dev/zero of=/mnt/fill bs=64k 2>/dev/null; (echo more > /mnt/more) 2>/dev/null; sleep 1000", (c) =>
      c.mounts.push({ destination: "/mnt", type: "tmpfs", source: "tmpfs", options: ["size=1m"] }),
    );
    expect(status(id)).toBe("running");
    // Seen from the host through the init's root: the tmpfs has no block left.
    const pid = JSON.parse(rig.call(["state", id]).stdout).pid;
    waitFor(() => (statfsSync(`/proc/${pid}/root/mnt`).bavail === 0 ? true : undefined));
    expect(rig.call(["kill", id, "KILL"]).status).toBe(0);
    forceDelete(id);
  });
});

describe("a networked rootfs whose /etc files are symlinks out of it", () => {
  /**
   * A top layer over the example's layers holds the hostile links to host files in `watched`:
   * resolv.conf absolute, hosts relative climbing out. With `inside`, the same paths also exist
   * inside the rootfs (where the links really point, seen from the container).
   */
  function attempt(name: string, inside: boolean) {
    const watched = join(rig.dir, `${name}-watched`);
    mkdirSync(watched);
    for (const f of ["resolv", "hosts"]) writeFileSync(join(watched, f), "untouched\n");
    const evil = join(rig.dir, `${name}-layer`);
    mkdirSync(join(evil, "etc"), { recursive: true });
    symlinkSync(join(watched, "resolv"), join(evil, "etc/resolv.conf"));
    symlinkSync(`../../../../../../../..${watched}/hosts`, join(evil, "etc/hosts"));
    if (inside) {
      mkdirSync(join(evil, watched), { recursive: true });
      for (const f of ["resolv", "hosts"]) writeFileSync(join(evil, watched, f), "image\n");
    }
    const id = rig.id(name);
    const b = rig.fullBundle("cat /etc/resolv.conf; grep -c 10.78. /etc/hosts", (c) => {
      c.tsrun.layers.push(evil);
      c.tsrun.network.dns = { nameservers: ["10.78.0.1"] };
    });
    const r = rig.call(["run", "--bundle", b, id]);
    expect(readdirSync(watched).sort()).toEqual(["hosts", "resolv"]);
    for (const f of ["resolv", "hosts"]) expect(readFileSync(join(watched, f), "utf8")).toBe("untouched\n");
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(watched);
    expect(rig.leaks([id])).toEqual([]);
    return r;
  }

  test("links to paths that exist in the rootfs too: the network's files are mounted there, inside; the host files are untouched", () => {
    const r = attempt("etc-inside", true);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^nameserver 10\.78\.0\.1\n1\n$/);
  });

  test("links to paths only the host has: create fails with one line naming the path, nothing is made on the host", () => {
    const r = attempt("etc-dangling", false);
    expect(r.status).toBe(1);
    expect(oneErrorLine(r.stderr)).toBe(true);
    expect(r.stderr).toMatch(/etc\/hosts.*No such file or directory/);
  });
});

describe("a damaged state root", () => {
  function created(name: string): { id: string; pid: number } {
    const id = rig.id(name);
    const r = rig.call(["create", "--bundle", rig.bundle((c) => (c.process.args = ["sleep", "1000"])), id]);
    expect(r.status).toBe(0);
    return { id, pid: JSON.parse(rig.call(["state", id]).stdout).pid };
  }
  const stateFile = (id: string) => join(rig.root, id, "state.json");

  test.each([
    ["truncated", (f: string) => truncateSync(f, Math.floor(readFileSync(f).length / 2))],
    ["empty", (f: string) => truncateSync(f, 0)],
    ["binary garbage", (f: string) => writeFileSync(f, Buffer.from([0, 0xff, 0xfe, 0x7b, 0x22]))],
    ["JSON of the wrong shape", (f: string) => writeFileSync(f, "[1,2,3]")],
    ["another container's record", (f: string) => writeFileSync(f, readFileSync(f, "utf8").replace(/"id":"[^"]+"/, '"id":"someone-else"'))],
    ["an unknown status", (f: string) => writeFileSync(f, readFileSync(f, "utf8").replace(/"status":"[^"]+"/, '"status":"zombie"'))],
  ])("%s state.json: state and start fail with one clear line, list works, delete --force kills the init and cleans up", (_what, damage) => {
    const { id, pid } = created("corrupt");
    damage(stateFile(id));
    const st = rig.call(["state", id]);
    expect(st.status).toBe(1);
    expect(oneErrorLine(st.stderr)).toBe(true);
    expect(st.stderr).toContain(`state of container ${id} is corrupt`);
    expect(oneErrorLine(rig.call(["start", id]).stderr)).toBe(true);
    expect(rig.call(["list"]).status).toBe(0);
    const del = rig.call(["delete", "--force", id]);
    expect(del.stderr).toBe("");
    expect(del.status).toBe(0);
    expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/stat`, "utf8").split(" ")[2] !== "Z").toBe(false);
    expect(rig.leaks([id])).toEqual([]);
  });

  test("a corrupt state.json of a networked container: delete --force removes its veth and releases its lease", () => {
    const id = rig.id("corrupt-net");
    expect(rig.call(["create", "--bundle", rig.fullBundle("sleep 1000"), id]).status).toBe(0);
    expect(readdirSync(join(rig.root, "@ipam/tsrel0")).filter((f) => f.startsWith("10."))).toHaveLength(1);
    expect(rig.veths()).toHaveLength(1);
    // Hold the container's network namespace open: the kernel's own teardown cannot take the veth away,
    // so only tsrun's removal of it makes the leak check pass.
    const netns = openSync(`/proc/${JSON.parse(rig.call(["state", id]).stdout).pid}/ns/net`, "r");
    try {
      writeFileSync(stateFile(id), "{");
      expect(rig.call(["delete", "--force", id]).status).toBe(0);
      expect(rig.leaks([id])).toEqual([]);
    } finally {
      closeSync(netns);
    }
  });

  test("a state dir without state.json (create died at once): stopped, delete --force cleans up", () => {
    const id = rig.id("bare");
    mkdirSync(join(rig.root, id), { recursive: true });
    expect(checkState(rig.call(["state", id])).status).toBe("stopped");
    forceDelete(id);
  });

  test("a stale lock of a dead process: start, kill and delete take it over", () => {
    const { id } = created("stale");
    const dead = spawnSync("true").pid!;
    writeFileSync(join(rig.root, id, "lock"), `${dead} 12345`);
    const start = rig.call(["start", id]);
    expect(start.stderr).toBe("");
    expect(start.status).toBe(0);
    writeFileSync(join(rig.root, id, "lock"), `${dead} 12345`);
    expect(status(id)).toBe("running");
    forceDelete(id);
  });

  test("the recorded init pid now belongs to another process: stopped with pid 0, delete --force leaves that process alone", () => {
    const { id, pid } = created("reused");
    process.kill(pid, "SIGKILL");
    waitFor(() => (status(id) === "stopped" ? true : undefined));
    const other = spawn("sleep", ["1000"], { stdio: "ignore" });
    try {
      const f = stateFile(id);
      writeFileSync(f, readFileSync(f, "utf8").replace(/"pid":\d+/, `"pid":${other.pid}`));
      const st = JSON.parse(rig.call(["state", id]).stdout);
      expect(st).toEqual(expect.objectContaining({ status: "stopped", pid: 0 }));
      expect(rig.call(["kill", id, "KILL"]).stderr).toMatch(/container not running/);
      forceDelete(id);
      expect(readFileSync(`/proc/${other.pid}/stat`, "utf8").split(" ")[2]).not.toBe("Z");
    } finally {
      other.kill("SIGKILL");
    }
  });
});
