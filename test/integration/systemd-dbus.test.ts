/**
 * The systemd manager API (src/cgroups/systemd/manager.ts) against the real systemd: a transient scope
 * around a `sleep` with the resource properties the systemd cgroup driver sets, checked with
 * `systemctl show` and in the scope's cgroup files; a property changed; the unit stopped and gone.
 * Needs systemd as PID 1 on cgroup v2 with the system bus, which the systemd VM gives:
 *   flock /work/wt/vm.lock bash test/v2vm/run.sh --systemd node --experimental-vm-modules \
 *     node_modules/jest/bin/jest.js --runInBand --forceExit test/integration/systemd-dbus.test.ts
 * Elsewhere (this host) only one test is defined: that connectSystemd fails with one clear line naming
 * the system bus socket it could not use (no skipped tests: each host runs what it can check).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connectSystemd, type SystemdManager } from "../../src/cgroups/systemd/manager.js";
import { DbusError, SystemdError } from "../../src/errors.js";

const SYSTEM_BUS = "/run/dbus/system_bus_socket";
const systemdIsPid1 = existsSync("/run/systemd/system") && readFileSync("/proc/1/comm", "utf8").trim() === "systemd";
const onSystemd = (name: string, fn: () => void) => {
  if (systemdIsPid1) describe(name, fn);
};
const notOnSystemd = (name: string, fn: () => void) => {
  if (!systemdIsPid1) describe(name, fn);
};
const SLOW = 120_000; // QEMU TCG

/** `systemctl show -p ... unit` as name -> values (a property listed more than once keeps each). */
function show(unit: string, props: string[]): Map<string, string[]> {
  const r = spawnSync("systemctl", ["show", "-p", props.join(","), unit], { encoding: "utf8" });
  const out = new Map<string, string[]>();
  for (const line of r.stdout.split("\n").filter(Boolean)) {
    const eq = line.indexOf("=");
    out.set(line.slice(0, eq), [...(out.get(line.slice(0, eq)) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const cgroupFile = (cgroup: string, file: string) => readFileSync(`/sys/fs/cgroup${cgroup}/${file}`, "utf8").trim();

function sleeper(): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn("sleep", ["300"], { stdio: "ignore" });
  return { child, exited: new Promise((r) => child.once("exit", () => r())) };
}

async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

notOnSystemd("without systemd as PID 1 (this host: the systemd tests run in the systemd VM)", () => {
  test("connectSystemd fails with one line naming the system bus and what is wrong", async () => {
    const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
    delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    let caught: unknown;
    try {
      await connectSystemd({ user: false, timeoutMs: 5_000 });
    } catch (e) {
      caught = e;
    } finally {
      if (saved !== undefined) process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
    }
    expect(caught).toBeInstanceOf(DbusError);
    const message = (caught as Error).message;
    expect(message).not.toContain("\n");
    if (existsSync(SYSTEM_BUS)) expect(message).toMatch(/^systemd is not reachable on the system bus \(unix:path=\/run\/dbus\/system_bus_socket\): /);
    else expect(message).toBe(`cannot connect to the system bus at ${SYSTEM_BUS}: no such socket`);
  });
});

onSystemd("with systemd as PID 1", () => {
  const unit = `tsrun-dbus-test-${process.pid}.scope`;
  const sleepers: ChildProcess[] = [];
  let m: SystemdManager;

  beforeAll(async () => {
    m = await connectSystemd({ user: false });
  }, SLOW);
  afterAll(async () => {
    for (const c of sleepers) c.kill("SIGKILL");
    for (const u of [unit, `tsrun-dbus-exited-${process.pid}.scope`]) await m?.stopUnit(u).catch(() => {});
    m?.close();
  }, SLOW);

  test("connectSystemd: systemd's version and manager properties, as systemctl reads them", async () => {
    const version = spawnSync("systemctl", ["show", "-p", "Version", "--value"], { encoding: "utf8" }).stdout.trim();
    expect(await m.managerProperty("Version")).toBe(version);
    expect(m.version).toBe(Number(/^\d+/.exec(version)![0]));
    expect(m.version).toBeGreaterThanOrEqual(240);
  }, SLOW);

  test("a transient scope with the driver's properties: systemctl show and the cgroup files agree", async () => {
    const s = sleeper();
    sleepers.push(s.child);
    await m.startTransientUnit(unit, [
      { name: "Description", type: "s", value: "tsrun D-Bus client test" },
      { name: "Slice", type: "s", value: "system.slice" },
      { name: "PIDs", type: "au", value: [s.child.pid!] },
      { name: "Delegate", type: "b", value: true },
      { name: "MemoryMax", type: "t", value: 64n << 20n },
      { name: "CPUWeight", type: "t", value: 50 },
      { name: "CPUQuotaPerSecUSec", type: "t", value: 500_000 },
      { name: "TasksMax", type: "t", value: 20 },
      { name: "AllowedCPUs", type: "ay", value: Uint8Array.of(0b1) },
      { name: "DevicePolicy", type: "s", value: "strict" },
      { name: "DeviceAllow", type: "a(ss)", value: [["/dev/null", "rwm"], ["char-pts", "rw"]] },
    ]);
    const shown = show(unit, ["ActiveState", "ControlGroup", "Delegate", "MemoryMax", "CPUWeight", "CPUQuotaPerSecUSec", "TasksMax", "AllowedCPUs", "DevicePolicy", "DeviceAllow"]);
    expect(Object.fromEntries([...shown].map(([k, v]) => [k, k === "DeviceAllow" ? v.sort() : v.join(" ")]))).toEqual({
      ActiveState: "active",
      ControlGroup: `/system.slice/${unit}`,
      Delegate: "yes",
      MemoryMax: String(64 << 20),
      CPUWeight: "50",
      CPUQuotaPerSecUSec: "500ms",
      TasksMax: "20",
      AllowedCPUs: "0",
      DevicePolicy: "strict",
      DeviceAllow: ["/dev/null rwm", "char-pts rw"], // (sorted: systemd keeps its own order)
    });
    const cg = `/system.slice/${unit}`;
    expect(readFileSync(`/proc/${s.child.pid}/cgroup`, "utf8").trim()).toBe(`0::${cg}`);
    expect(cgroupFile(cg, "memory.max")).toBe(String(64 << 20));
    expect(cgroupFile(cg, "cpu.weight")).toBe("50");
    expect(cgroupFile(cg, "cpu.max")).toBe("50000 100000");
    expect(cgroupFile(cg, "pids.max")).toBe("20");
    expect(cgroupFile(cg, "cpuset.cpus")).toBe("0");
    // Over D-Bus too: the unit's own properties, and the manager's view of its cgroup.
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "ControlGroup")).toBe(cg);
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "MemoryMax")).toBe(64 * 1024 * 1024);
    // systemd gives the mask back in its own size (whole 64-bit words): CPU 0 alone, then zeros.
    const cpus = (await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "AllowedCPUs")) as Uint8Array;
    expect([cpus[0], cpus.subarray(1).every((b) => b === 0)]).toEqual([1, true]);
    expect(((await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "DeviceAllow")) as string[][]).sort()).toEqual([["/dev/null", "rwm"], ["char-pts", "rw"]]);
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Unit", "ActiveState")).toBe("active");
  }, SLOW);

  test("setUnitProperties changes the unit and its cgroup", async () => {
    await m.setUnitProperties(unit, true, [
      { name: "MemoryMax", type: "t", value: 128n << 20n },
      { name: "TasksMax", type: "t", value: 30 },
    ]);
    expect(show(unit, ["MemoryMax", "TasksMax"])).toEqual(new Map([["MemoryMax", [String(128 << 20)]], ["TasksMax", ["30"]]]));
    expect(cgroupFile(`/system.slice/${unit}`, "memory.max")).toBe(String(128 << 20));
    expect(cgroupFile(`/system.slice/${unit}`, "pids.max")).toBe("30");
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "MemoryMax")).toBe(128 * 1024 * 1024);
  }, SLOW);

  test("a second start of a live unit: SystemdError UnitExists naming it (after the one reset-and-retry)", async () => {
    const s = sleeper();
    sleepers.push(s.child);
    let caught: unknown;
    try {
      await m.startTransientUnit(unit, [{ name: "PIDs", type: "au", value: [s.child.pid!] }]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SystemdError);
    expect((caught as SystemdError).dbusName).toBe("org.freedesktop.systemd1.UnitExists");
    expect((caught as Error).message).toMatch(new RegExp(`^systemd unit ${unit.replace(/\./g, "\\.")}: StartTransientUnit: org\\.freedesktop\\.systemd1\\.UnitExists: `));
    s.child.kill("SIGKILL");
  }, SLOW);

  test("a property systemd does not know: SystemdError naming the unit and the property", async () => {
    const s = sleeper();
    sleepers.push(s.child);
    const bad = `tsrun-dbus-bad-${process.pid}.scope`;
    let caught: unknown;
    try {
      await m.startTransientUnit(bad, [{ name: "PIDs", type: "au", value: [s.child.pid!] }, { name: "NoSuchSetting", type: "s", value: "x" }]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SystemdError);
    expect((caught as Error).message).toMatch(new RegExp(`^systemd unit ${bad.replace(/\./g, "\\.")}: StartTransientUnit: org\\.freedesktop\\.DBus\\.Error\\.\\w+: .*NoSuchSetting`));
    expect(await m.unitProperty(bad, "org.freedesktop.systemd1.Unit", "ActiveState")).toBeNull();
    s.child.kill("SIGKILL");
  }, SLOW);

  test("stopUnit: the scope's process is ended, the unit and its cgroup are gone; a second stop is fine", async () => {
    const pid = sleepers[0].pid!;
    const exited = new Promise<void>((r) => (sleepers[0].exitCode !== null || sleepers[0].signalCode !== null ? r() : sleepers[0].once("exit", () => r())));
    await m.stopUnit(unit);
    await within(10_000, exited, `sleep ${pid} after stopUnit`);
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Unit", "ActiveState")).toBeNull();
    expect(show(unit, ["LoadState"]).get("LoadState")).toEqual(["not-found"]);
    expect(spawnSync("systemctl", ["list-units", "--all", "--no-legend", unit], { encoding: "utf8" }).stdout.trim()).toBe("");
    expect(existsSync(`/sys/fs/cgroup/system.slice/${unit}`)).toBe(false);
    await m.stopUnit(unit);
  }, SLOW);

  test("a scope whose processes all exited: stopUnit is fine and it is gone", async () => {
    const s = sleeper();
    sleepers.push(s.child);
    const u = `tsrun-dbus-exited-${process.pid}.scope`;
    await m.startTransientUnit(u, [{ name: "PIDs", type: "au", value: [s.child.pid!] }]);
    s.child.kill("SIGKILL");
    await s.exited;
    await m.stopUnit(u);
    expect(await m.unitProperty(u, "org.freedesktop.systemd1.Unit", "ActiveState")).toBeNull();
  }, SLOW);
});
