// runc 1.2-1.4's cgroup flags on this host's layout (the cgroup v2 VM runs this file too):
// `update --cpu-burst` / `--cpu-idle` and the config's cpu.burst / cpu.idle at create (v2 cpu.max.burst
// and cpu.idle, v1 cpu.cfs_burst_us and cpu.idle), and `kill --all KILL` / `delete --force` through
// cgroup.kill where the kernel has it. runc 1.1.5, the runc here, has neither update flag (runc 1.2 added
// them), ignores both config fields and never uses cgroup.kill: what it does have is compared (kill --all).
// A kernel without one of the files is probed for, and what it makes tsrun say is checked instead.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LAYOUT, V2, V2_MOUNT, cgroupDir, differentialSetup, readCgroup } from "../helpers/cgroups.js";
import { containerPids } from "../../src/cgroups/procs.js";
import { waitFor } from "../helpers/tsrun.js";

const { s, rc, ownPath, runcId } = differentialSetup();

const BURST = V2 ? "cpu.max.burst" : "cpu.cfs_burst_us";
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));

/** A running container with `resources` in cgroup `path`; its id. */
function running(name: string, path: string, resources: object = {}): string {
  const id = s.id(name);
  const r = s.tsrun(["run", "-d", "--bundle", s.bundle((c) => {
    c.process.args = ["sleep", "1000"];
    c.linux.cgroupsPath = path;
    c.linux.resources = { ...c.linux.resources, ...resources };
  }), id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return id;
}

test(`update --cpu-burst and --cpu-idle write the kernel's files, or fail saying what the kernel lacks (${LAYOUT})`, () => {
  const path = ownPath("cpu");
  const id = running("cpu", path, { cpu: { quota: 50000, period: 100000 } });
  const dir = cgroupDir("cpu", path);
  const hasBurst = existsSync(join(dir, BURST));
  const hasIdle = existsSync(join(dir, "cpu.idle"));

  const burst = s.tsrun(["update", "--cpu-burst", "20000", id]);
  if (hasBurst) {
    expect(burst).toMatchObject({ status: 0, stderr: "" });
    expect(readCgroup("cpu", path, BURST)).toBe("20000");
    // More burst than quota: the kernel's EINVAL, with the field.
    const over = s.tsrun(["update", "--cpu-burst", "60000", id]);
    expect(over.status).not.toBe(0);
    expect(over.stderr).toMatch(/\/cpu\/burst: cannot write .*=60000: Invalid argument/);
    expect(readCgroup("cpu", path, BURST)).toBe("20000");
  } else if (V2) {
    expect(burst.status).not.toBe(0);
    expect(burst.stderr).toContain("has no cpu.max.burst (it needs Linux 5.14");
    console.log(`this kernel has no ${BURST}: checked the refusal only`);
  } else {
    expect(burst).toMatchObject({ status: 0, stderr: expect.stringContaining("/cpu/burst ignored: this kernel has no cpu.cfs_burst_us") });
    console.log(`this kernel has no ${BURST}: checked the warning only`);
  }

  const idle = s.tsrun(["update", "--cpu-idle", "1", id]);
  if (hasIdle) {
    expect(idle).toMatchObject({ status: 0, stderr: "" });
    expect(readCgroup("cpu", path, "cpu.idle")).toBe("1");
    expect(s.tsrun(["update", "--cpu-idle", "0", id])).toMatchObject({ status: 0, stderr: "" });
    expect(readCgroup("cpu", path, "cpu.idle")).toBe("0");
  } else {
    expect(idle.status).not.toBe(0);
    expect(idle.stderr).toContain("has no cpu.idle (it needs Linux 5.15");
    console.log("this kernel has no cpu.idle: checked the refusal only");
  }
  const bad = s.tsrun(["update", "--cpu-idle", "2", id]);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain("cpu/idle: must be 0 (the default) or 1 (SCHED_IDLE), not 2");

  // runc 1.1.5 has neither flag.
  for (const flag of ["--cpu-idle", "--cpu-burst"]) {
    expect(rc.run(["update", flag, "1", "nothing"]).stderr).toContain(`flag provided but not defined: -${flag.slice(2)}`);
  }
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test("the config's cpu.idle and cpu.burst at create, as runc 1.2+ sets them (runc 1.1.5 ignores both: they are runtime-spec 1.1 fields)", () => {
  // The files are probed in a container's cgroup (a v2 root has neither; the cpu controller must be on).
  const probePath = ownPath("probe");
  const probe = running("probe", probePath, { cpu: { shares: 1024 } });
  const dir = cgroupDir("cpu", probePath);
  const hasIdle = existsSync(join(dir, "cpu.idle"));
  const hasBurst = existsSync(join(dir, BURST));
  expect(s.tsrun(["delete", "--force", probe]).status).toBe(0);
  if (!hasIdle || !hasBurst) {
    console.log(`this kernel lacks ${hasIdle ? BURST : "cpu.idle"}: the create-time values were not checked`);
    return;
  }
  const cpu = { quota: 50000, period: 100000, burst: 10000, idle: 1 };
  const ours = ownPath("cfg-tsrun");
  const id = running("cfg", ours, { cpu });
  expect(readCgroup("cpu", ours, "cpu.idle")).toBe("1");
  expect(readCgroup("cpu", ours, BURST)).toBe("10000");

  const theirPath = ownPath("cfg-runc");
  const theirs = runcId(`runc-${id}`);
  const b = s.bundle((c) => {
    c.process.args = ["sleep", "1000"];
    c.linux.cgroupsPath = theirPath;
    c.linux.resources = { ...c.linux.resources, cpu };
  });
  expect(rc.run(["run", "-d", "--bundle", b, theirs], { detached: true, cwd: s.dir }).status).toBe(0);
  // runc 1.1.5 never writes either file (its binary does not name them): the kernel's defaults stay.
  expect([readCgroup("cpu", theirPath, "cpu.idle"), readCgroup("cpu", theirPath, BURST)]).toEqual(["0", "0"]);
  expect(rc.run(["delete", "--force", theirs]).status).toBe(0);
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

describe("kill --all KILL and delete --force through cgroup.kill", () => {
  /** Whether the kernel has cgroup.kill for this container's cgroup v2 directory (none on a v1-only host). */
  const hasCgroupKill = (path: string) => V2_MOUNT !== undefined && existsSync(join(V2_MOUNT, path, "cgroup.kill"));

  test.each([
    ["its own pid namespace", false],
    ["the host's pid namespace", true],
  ])("kill --all KILL in %s: every process, with cgroup.kill where the kernel has it", (_n, hostPid) => {
    const path = ownPath(hostPid ? "kill-host" : "kill-own");
    const id = s.id(hostPid ? "kill-host" : "kill-own");
    const r = s.tsrun(["run", "-d", "--bundle", s.bundle((c) => {
      c.process.args = ["sh", "-c", "trap '' TERM; (trap '' TERM; sleep 1000) & (trap '' TERM; sleep 1001) & sleep 1002"];
      c.linux.cgroupsPath = path;
      if (hostPid) c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== "pid");
    }), id]);
    expect(r.status).toBe(0);
    const pids = waitFor(() => {
      const p = containerPids(path);
      return p.length >= 3 ? p : undefined;
    });
    const k = s.tsrun(["kill", "--all", id, "KILL"], { global: ["--debug"] });
    expect(k.status).toBe(0);
    if (hasCgroupKill(path)) expect(k.stderr).toContain(`kill --all ${id}: cgroup.kill written`);
    else {
      expect(k.stderr).not.toContain("cgroup.kill written");
      console.log(`no cgroup.kill (${LAYOUT}, this kernel): the pid-by-pid kill was checked instead`);
    }
    waitFor(() => (pids.every((p) => !alive(p)) ? true : undefined));
    waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
    // Other signals still go pid by pid (runc: cgroup.kill is for SIGKILL only).
    expect(s.tsrun(["kill", "--all", id, "TERM"], { global: ["--debug"] }).stderr).not.toContain("cgroup.kill");
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });

  test("kill --all KILL of a paused container ends it (thawed where the freezer is v1), as runc 1.1.5's", () => {
    const outcome = (run: (b: string, id: string) => void, kill: (id: string) => number | null, state: (id: string) => string, id: string, path: string) => {
      run(s.bundle((c) => {
        c.process.args = ["sh", "-c", "sleep 1000 & sleep 1001"];
        c.linux.cgroupsPath = path;
      }), id);
      waitFor(() => (containerPids(path).length >= 2 ? true : undefined));
      return { killed: kill(id), status: waitFor(() => (state(id) === "stopped" ? "stopped" : undefined)), left: containerPids(path) };
    };
    const ours = s.id("kill-paused");
    const ourPath = ownPath("kill-paused");
    const t = outcome(
      (b, id) => {
        expect(s.tsrun(["run", "-d", "--bundle", b, id]).status).toBe(0);
        expect(s.tsrun(["pause", id]).status).toBe(0);
      },
      (id) => s.tsrun(["kill", "--all", id, "KILL"]).status,
      (id) => s.state(id).status,
      ours,
      ourPath,
    );
    const theirs = runcId(`runc-${ours}`);
    const theirPath = ownPath("kill-paused-runc");
    const r = outcome(
      (b, id) => {
        expect(rc.run(["run", "-d", "--bundle", b, id], { detached: true, cwd: s.dir }).status).toBe(0);
        expect(rc.run(["pause", id]).status).toBe(0);
      },
      (id) => rc.run(["kill", "--all", id, "KILL"]).status,
      (id) => JSON.parse(rc.run(["state", id]).stdout).status,
      theirs,
      theirPath,
    );
    expect(t).toEqual(r);
    expect(t).toEqual({ killed: 0, status: "stopped", left: [] });
    expect(s.tsrun(["delete", ours]).status).toBe(0);
    expect(rc.run(["delete", theirs]).status).toBe(0);
  });

  test("delete --force of a running container with children leaves nothing", () => {
    const path = ownPath("del-force");
    const id = running("del-force", path);
    expect(s.tsrun(["exec", "-d", id, "sh", "-c", "trap '' TERM; sleep 999"]).status).toBe(0);
    const pids = waitFor(() => {
      const p = containerPids(path);
      return p.length >= 2 ? p : undefined;
    });
    const d = s.tsrun(["delete", "--force", id]);
    expect(d).toMatchObject({ status: 0, stderr: "" });
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(cgroupDir("cpu", path))).toBe(false);
  });
});
