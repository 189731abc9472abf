// --systemd-cgroup, runtime by runtime (issue 17): the container in a transient scope that systemd
// started, named and placed as runc names and places it, its resources seen by systemctl and in the
// cgroup files, the verbs on it, and what delete and the errors leave behind. runc is the reference:
// every test runs with runc, and with tsrun as soon as `bin/tsrun features` says linux.cgroup.systemd
// (test/helpers/systemd.ts). The assertions are the same for both, except where runc 1.1 is known to
// differ from what issue 17 asks (a unit that already exists), which is said where it happens.
//
// Runs where systemd is PID 1 (the systemd VM: bash test/v2vm/systemd-tests.sh). On a host without
// systemd, the file checks that --systemd-cgroup is refused in one line and leaves nothing.
import { sharesToWeight } from "../../src/cgroups/resources-v2.js";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { V2_MOUNT } from "../helpers/cgroups.js";
import {
  NO_SYSTEMD_REASON,
  RUNC,
  SYSTEMD,
  SYSTEMD_V2,
  cgroupDirsMatching,
  cgroupDirsOf,
  errorLines,
  processesInCgroupsMatching,
  stopUnits,
  systemdRuntimes,
  unitProps,
  unitsMatching,
  waitNoUnits,
} from "../helpers/systemd.js";
import { Scratch, ensureBuilt } from "../helpers/tsrun.js";

const RUNTIMES = systemdRuntimes("systemd-differential");
const MiB = 1024 * 1024;
/** Every id and unit of this file carries the stem: what is left of it is found by a glob. */
const STEM = `sd${process.pid}`;
/** The nested slice of the kubepods-besteffort-pod<uid>.slice form, under a top slice of our own. */
const POD_SLICE = `tsrunpods-besteffort-pod${STEM}.slice`;
/** The container's process: exits 0 on TERM at once, and its process set stays put (for ps). */
const LOOP = ["sh", "-c", 'trap "exit 0" TERM; sleep 600 & wait'];
const sleep = (s: number) => spawnSync("sleep", [String(s)]);
/** runc 1.1 starts a container in an existing unit of its name (deprecated; issue 17 asks for a refusal). */
const RUNC_JOINS_EXISTING_UNIT = /^runc version 1\.[01]\./m.test(spawnSync(RUNC, ["--version"], { encoding: "utf8" }).stdout ?? "");

if (!SYSTEMD) {
  process.stdout.write(`systemd-differential: NOT checked on this host: ${NO_SYSTEMD_REASON}\n`);
}

describe.each(RUNTIMES)("%s --systemd-cgroup", (name, path) => {
  // cpu.shares 512 as a weight: runc 1.1's linear conversion gives 20; tsrun's (crun's curve, which runc
  // adopted later; the same for both of its cgroup v2 drivers) gives 59.
  const weight512 = name === "runc" ? "20" : String(sharesToWeight(512));
  const s = new Scratch();
  const root = join(s.dir, `${name}-root`);
  const ids: string[] = [];
  let n = 0;
  const newId = (tag: string) => {
    const id = `${STEM}-${tag}-${n++}`;
    ids.push(id);
    return id;
  };
  /** The runtime with its own state root and --systemd-cgroup, as podman and containerd's shim call it. */
  const rt = (...args: string[]) => s.command(path, ["--root", root, "--systemd-cgroup", ...args]);
  const ok = (...args: string[]) => {
    const r = rt(...args);
    if (r.status !== 0) throw new Error(`${name} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const state = (id: string) => JSON.parse(ok("state", id));
  const waitStatus = (id: string, want: string) => {
    let got = "";
    for (let i = 0; i < 100 && (got = state(id).status) !== want; i++) sleep(0.1);
    return got;
  };
  /** The container's init: its pid from state, its cgroup from /proc (the unified line, or systemd's v1 one). */
  const cgroupOf = (pid: number) => {
    const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
    const line = lines.find((l) => l.startsWith("0::")) ?? lines.find((l) => l.includes(":name=systemd:")) ?? "";
    return line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
  };
  /** Nothing of the container: no unit in any state, no cgroup directory, no state. */
  const expectGone = (id: string, unit: string, cgroupPath: string) => {
    expect(waitNoUnits(unit)).toEqual([]);
    expect(cgroupDirsOf(cgroupPath)).toEqual([]);
    expect(rt("state", id).status).not.toBe(0);
  };
  /** A refused create: non-zero, one error line naming each of `names`, no container. */
  const expectRefused = (r: { status: number | null; stderr: string }, id: string, names: string[]) => {
    expect(r.status).not.toBe(0);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    for (const x of names) expect(lines[0]).toContain(x);
    expect(rt("state", id).status).not.toBe(0);
  };

  beforeAll(() => {
    if (name === "tsrun") ensureBuilt();
    if (!existsSync(path)) throw new Error(`${path} is not installed: run src/build/install-deps.sh --test`);
  });
  afterAll(() => {
    // Even after a failure: the runtime deletes what it made; what is still there then is a leak,
    // reported after it is removed (units stopped, the test's own slices too).
    for (const id of ids) rt("delete", "--force", id);
    // The pod slices are the test's own (runc leaves a slice it had systemd make, as kubelet expects):
    // stopped, not counted; a scope still there is a leak.
    const leaks = processesInCgroupsMatching(STEM).map((p) => `process ${p}`);
    leaks.push(...stopUnits(`*${STEM}*.scope`).map((u) => `unit ${u}`));
    stopUnits("tsrunpods*.slice");
    leaks.push(...cgroupDirsMatching(STEM).map((d) => `cgroup ${d}`));
    if (existsSync(root)) leaks.push(...readdirSync(root).map((d) => `state dir ${join(root, d)}`));
    leaks.push(...s.cleanup());
    expect(leaks).toEqual([]);
  });

  if (!SYSTEMD) {
    test("without systemd as PID 1, create is refused in one line and leaves nothing", () => {
      const id = newId("nosd");
      const r = rt("create", "--bundle", s.bundle((c) => (c.process.args = LOOP)), id);
      expect(r.status).not.toBe(0);
      expect(errorLines(r.stderr)).toHaveLength(1);
      expect(errorLines(r.stderr)[0]).toMatch(/systemd/);
      expect(rt("state", id).status).not.toBe(0);
      expect(cgroupDirsOf(`system.slice/${name}-${id}.scope`)).toEqual([]);
    });
    return;
  }

  test(`create puts the init in ${name}-<id>.scope in system.slice; start, state, kill, delete; nothing left`, () => {
    const id = newId("life");
    const unit = `${name}-${id}.scope`;
    const cgroupPath = `/system.slice/${unit}`;
    ok("create", "--bundle", s.bundle((c) => (c.process.args = LOOP)), id);
    const st = state(id);
    expect(st.status).toBe("created");
    expect(unitProps(unit, ["ActiveState", "Slice", "ControlGroup", "Delegate", "Transient"])).toEqual({
      ActiveState: "active",
      Slice: "system.slice",
      ControlGroup: cgroupPath,
      Delegate: "yes",
      Transient: "yes",
    });
    expect(cgroupOf(st.pid)).toBe(cgroupPath);
    if (SYSTEMD_V2) expect(readFileSync(join(V2_MOUNT!, cgroupPath, "cgroup.procs"), "utf8").split("\n")).toContain(String(st.pid));
    ok("start", id);
    expect(state(id).status).toBe("running");
    ok("kill", id, "TERM");
    expect(waitStatus(id, "stopped")).toBe("stopped");
    ok("delete", id);
    expectGone(id, unit, cgroupPath);
  });

  test("cgroupsPath machine.slice:libpod:<id> (podman's): libpod-<id>.scope in machine.slice; kill --all stops every process in it", () => {
    const id = newId("pm");
    const unit = `libpod-${id}.scope`;
    const cgroupPath = `/machine.slice/${unit}`;
    ok("create", "--bundle", s.bundle((c) => ((c.process.args = LOOP), (c.linux.cgroupsPath = `machine.slice:libpod:${id}`))), id);
    expect(unitProps(unit, ["ActiveState", "Slice", "ControlGroup"])).toEqual({ ActiveState: "active", Slice: "machine.slice", ControlGroup: cgroupPath });
    expect(cgroupOf(state(id).pid)).toBe(cgroupPath);
    ok("start", id);
    ok("kill", "--all", id, "KILL");
    expect(waitStatus(id, "stopped")).toBe("stopped");
    ok("delete", id);
    expectGone(id, unit, cgroupPath);
  });

  test("cgroupsPath <a-b-podX>.slice:cri-containerd:<id> (containerd CRI's): the slice is nested as systemd nests it", () => {
    const id = newId("cri");
    const unit = `cri-containerd-${id}.scope`;
    const nested = `/tsrunpods.slice/tsrunpods-besteffort.slice/${POD_SLICE}`;
    const cgroupPath = `${nested}/${unit}`;
    ok("create", "--bundle", s.bundle((c) => ((c.process.args = LOOP), (c.linux.cgroupsPath = `${POD_SLICE}:cri-containerd:${id}`))), id);
    expect(unitProps(unit, ["ActiveState", "Slice", "ControlGroup"])).toEqual({ ActiveState: "active", Slice: POD_SLICE, ControlGroup: cgroupPath });
    expect(unitProps(POD_SLICE, ["ActiveState", "ControlGroup"])).toEqual({ ActiveState: "active", ControlGroup: nested });
    expect(cgroupOf(state(id).pid)).toBe(cgroupPath);
    ok("delete", "--force", id);
    expectGone(id, unit, cgroupPath);
  });

  // The resources as systemd knows them, and as the kernel has them: cgroup v2 files only.
  if (!SYSTEMD_V2) process.stdout.write(`systemd-differential: resources, update, pause, ps NOT checked with ${name}: this systemd host is not cgroup v2 only\n`);
  if (SYSTEMD_V2) describe("a running container with resources and a unit property annotation", () => {
    let id = "";
    let unit = "";
    let dir = "";
    const file = (f: string) => readFileSync(join(dir, f), "utf8").trim();
    const PROPS = ["MemoryMax", "MemoryLow", "MemorySwapMax", "CPUWeight", "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "TasksMax", "AllowedCPUs", "TimeoutStopUSec"];

    beforeAll(() => {
      id = newId("res");
      unit = `${name}-${id}.scope`;
      dir = join(V2_MOUNT!, "system.slice", unit);
      const bundle = s.bundle((c) => {
        c.process.args = LOOP;
        c.linux.resources = {
          ...c.linux.resources,
          memory: { limit: 64 * MiB, swap: 128 * MiB, reservation: 32 * MiB },
          cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0" },
          pids: { limit: 50 },
        };
        // A unit property by annotation, its value in GVariant text as runc reads it.
        c.annotations = { "org.systemd.property.TimeoutStopUSec": "uint64 123000000" };
      });
      ok("run", "--detach", "--bundle", bundle, id);
    });

    test("systemctl show: MemoryMax/Low/SwapMax, CPUWeight (from shares), CPU quota and period, TasksMax, AllowedCPUs, TimeoutStopUSec", () => {
      expect(unitProps(unit, PROPS)).toEqual({
        MemoryMax: String(64 * MiB),
        MemoryLow: String(32 * MiB),
        // cgroup v2 swap is swap alone: the OCI memory+swap 128M less memory 64M
        MemorySwapMax: String(64 * MiB),
        // shares 512 -> weight 1 + (512 - 2) * 9999 / 262142, as runc converts it
        CPUWeight: weight512,
        CPUQuotaPerSecUSec: "500ms",
        CPUQuotaPeriodUSec: "100ms",
        TasksMax: "50",
        AllowedCPUs: "0",
        TimeoutStopUSec: "2min 3s",
      });
    });

    test("the cgroup files say the same", () => {
      expect(file("memory.max")).toBe(String(64 * MiB));
      expect(file("memory.low")).toBe(String(32 * MiB));
      if (existsSync(join(dir, "memory.swap.max"))) expect(file("memory.swap.max")).toBe(String(64 * MiB));
      else process.stdout.write("systemd-differential: memory.swap.max NOT checked: this kernel has no swap accounting\n");
      expect(file("cpu.weight")).toBe(weight512);
      expect(file("cpu.max")).toBe("50000 100000");
      expect(file("cpuset.cpus")).toBe("0");
      expect(file("pids.max")).toBe("50");
    });

    test("update --memory changes the unit's property and the cgroup file", () => {
      ok("update", "--memory", "96m", "--memory-swap", "192m", id);
      expect(unitProps(unit, ["MemoryMax", "MemorySwapMax"])).toEqual({ MemoryMax: String(96 * MiB), MemorySwapMax: String(96 * MiB) });
      expect(file("memory.max")).toBe(String(96 * MiB));
      if (existsSync(join(dir, "memory.swap.max"))) expect(file("memory.swap.max")).toBe(String(96 * MiB));
      // what update did not name stays
      expect(unitProps(unit, ["MemoryLow", "TasksMax"])).toEqual({ MemoryLow: String(32 * MiB), TasksMax: "50" });
    });

    test("events --stats reads the scope's cgroup: the memory limit as updated, the pids limit", () => {
      const ev = JSON.parse(ok("events", "--stats", id));
      expect(ev.data.memory.usage.limit).toBe(96 * MiB);
      expect(ev.data.pids).toMatchObject({ limit: 50 });
      expect(ev.data.pids.current).toBeGreaterThanOrEqual(2);
    });

    test("pause freezes the scope's cgroup, resume thaws it; the unit stays active", () => {
      ok("pause", id);
      expect(state(id).status).toBe("paused");
      expect(file("cgroup.freeze")).toBe("1");
      expect(file("cgroup.events")).toContain("frozen 1");
      expect(unitProps(unit, ["ActiveState"]).ActiveState).toBe("active");
      ok("resume", id);
      expect(state(id).status).toBe("running");
      expect(file("cgroup.freeze")).toBe("0");
    });

    test("ps lists the scope's processes", () => {
      const pids: number[] = JSON.parse(ok("ps", "--format", "json", id));
      expect(pids).toContain(state(id).pid);
      expect(file("cgroup.procs").split("\n").map(Number).sort()).toEqual([...pids].sort());
    });

    test(`delete --force of the running container leaves no ${name}-* unit and no cgroup`, () => {
      ok("delete", "--force", id);
      expect(waitNoUnits(`${name}-${STEM}-*`)).toEqual([]);
      expect(existsSync(dir)).toBe(false);
      expect(rt("state", id).status).not.toBe(0);
    });
  });

  describe("errors", () => {
    test("a unit of that name that already exists", () => {
      const id = newId("exists");
      const unit = `${name}-${id}.scope`;
      // Someone else's scope of that name, with a process of its own.
      const other: ChildProcess = spawn("systemd-run", ["--quiet", "--scope", `--unit=${unit}`, "sleep", "600"], { stdio: "ignore" });
      try {
        for (let i = 0; i < 100 && unitProps(unit, ["ActiveState"]).ActiveState !== "active"; i++) sleep(0.1);
        expect(unitProps(unit, ["ActiveState"]).ActiveState).toBe("active");
        const r = rt("create", "--bundle", s.bundle((c) => (c.process.args = LOOP)), id);
        if (name === "runc" && RUNC_JOINS_EXISTING_UNIT) {
          // runc 1.1 joins the existing scope, with a warning that 1.2 will refuse it (issue 17 asks
          // for the refusal): its create succeeds.
          expect(r.status).toBe(0);
          expect(r.stderr).toContain("cgroup is not empty");
        } else {
          expectRefused(r, id, [unit]);
          // ... and the other scope and its process are untouched.
          expect(unitProps(unit, ["ActiveState"]).ActiveState).toBe("active");
          expect(other.exitCode).toBe(null);
        }
      } finally {
        rt("delete", "--force", id);
        other.kill("SIGKILL");
        stopUnits(unit);
      }
    });

    test.each([
      ["a slash in the slice", "bad/x.slice", "bad/x.slice"],
      ["a slice name without .slice", "nosuffix", "nosuffix"],
      ["an empty component in a nested slice", "a--b.slice", "a--b.slice"],
    ])("a bad slice name: %s", (_what, slice, named) => {
      const id = newId("badslice");
      const r = rt("create", "--bundle", s.bundle((c) => ((c.process.args = LOOP), (c.linux.cgroupsPath = `${slice}:${name}:${id}`))), id);
      expectRefused(r, id, [named]);
      expect(unitsMatching(`*${id}*`)).toEqual([]);
    });

    test("a cgroupsPath that is not slice:prefix:name", () => {
      const id = newId("badpath");
      const r = rt("create", "--bundle", s.bundle((c) => ((c.process.args = LOOP), (c.linux.cgroupsPath = "system.slice:only-two"))), id);
      expectRefused(r, id, ["slice:prefix:name", "system.slice:only-two"]);
      expect(unitsMatching("only-two*")).toEqual([]);
    });

    test("a unit property systemd refuses (org.systemd.property.Bogus)", () => {
      const id = newId("bogus");
      const r = rt(
        "create",
        "--bundle",
        s.bundle((c) => ((c.process.args = LOOP), (c.annotations = { "org.systemd.property.Bogus": "uint64 1" }))),
        id,
      );
      expectRefused(r, id, ["Bogus"]);
      expect(waitNoUnits(`*${id}*`)).toEqual([]);
      expect(cgroupDirsOf(`system.slice/${name}-${id}.scope`)).toEqual([]);
    });
  });
});
