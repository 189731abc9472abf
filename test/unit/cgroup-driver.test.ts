/**
 * src/cgroups/driver.ts: which driver a host gets, and its pure parts (the resource plan create checks
 * and --dry-run prints, how a process joins, what cgroup mounts show), on hierarchy samples. No root:
 * nothing here reads or writes a cgroup file (the frozen probes read scratch files laid out as one).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { cgroupMembers } from "../../src/cgroups/members.js";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { ConfigError } from "../../src/errors.js";
import { thrown } from "../helpers/plan-bundles.js";

/** This build host's kind: v1 controllers plus the cgroup2 mount at /sys/fs/cgroup/unified. */
const HYBRID: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: "name=systemd" },
  { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", version: 1, controllers: "cpu,cpuacct" },
  { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
  { mountPoint: "/sys/fs/cgroup/pids", version: 1, controllers: "pids" },
  { mountPoint: "/sys/fs/cgroup/freezer", version: 1, controllers: "freezer" },
  { mountPoint: "/sys/fs/cgroup/devices", version: 1, controllers: "devices" },
  { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
];
const LEGACY = HYBRID.filter((h) => h.version === 1);
const UNIFIED: CgroupHierarchy[] = [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }];

const driver = (hierarchies: CgroupHierarchy[], path = "/tsrun/c1") => cgroupDriver(path, { hierarchies });
const RESOURCES = { memory: { limit: 1 << 20 }, pids: { limit: 10 }, cpu: { shares: 512 } };
const fileLines = (hs: CgroupHierarchy[], r: object = RESOURCES) => driver(hs).planResources(r).writes.map((w) => `${w.dir}/${w.file}=${w.value}`);

describe("the driver a host gets", () => {
  test("hybrid and legacy hosts limit with their v1 controllers, a unified host with cgroup v2", () => {
    expect(fileLines(HYBRID)).toContain("/sys/fs/cgroup/memory/tsrun/c1/memory.limit_in_bytes=1048576");
    expect(fileLines(LEGACY)).toContain("/sys/fs/cgroup/memory/tsrun/c1/memory.limit_in_bytes=1048576");
    expect(fileLines(UNIFIED)).toContain("/sys/fs/cgroup/tsrun/c1/memory.max=1048576");
  });

  test("hybrid: the freezer and device rules are the v1 controllers'; the init is still cloned into the cgroup2 mount", () => {
    const d = driver(HYBRID);
    expect(d.hasFreezer()).toBe(true);
    expect(d.planResources({}).devices).toMatchObject({ kind: "v1", dir: "/sys/fs/cgroup/devices/tsrun/c1" });
    expect(d.joinPlan(false).cloneInto).toBe("/sys/fs/cgroup/unified/tsrun/c1");
  });

  test("unified: device rules are an eBPF program on the container's cgroup, the init is cloned into it", () => {
    const d = driver(UNIFIED);
    expect(d.hasFreezer()).toBe(true);
    const devices = d.planResources({}).devices;
    expect(devices).toMatchObject({ kind: "bpf", dir: "/sys/fs/cgroup/tsrun/c1" });
    expect(devices.kind === "bpf" && devices.insns).toBeGreaterThan(0);
    expect(d.joinPlan(false)).toEqual({ cloneInto: "/sys/fs/cgroup/tsrun/c1", selfTasks: [], parentJoins: [] });
  });

  test("a hybrid host without a v1 devices controller guards devices on its cgroup2 mount", () => {
    const d = driver(HYBRID.filter((h) => h.controllers !== "devices"));
    expect(d.planResources({}).devices).toMatchObject({ kind: "bpf", dir: "/sys/fs/cgroup/unified/tsrun/c1" });
  });

  test("a host whose only v1 hierarchies are named ones (name=systemd) is driven as cgroup v2", () => {
    const d = driver([HYBRID[0], HYBRID[6]]);
    expect(fileLines([HYBRID[0], HYBRID[6]], { pids: { limit: 10 } })).toEqual(["/sys/fs/cgroup/unified/tsrun/c1/pids.max=10"]);
    expect(d.planResources({}).devices).toMatchObject({ kind: "bpf", dir: "/sys/fs/cgroup/unified/tsrun/c1" });
  });

  test("a v1 host without a freezer hierarchy has no freezer, and says so when asked to freeze", () => {
    const d = driver(LEGACY.filter((h) => h.controllers !== "freezer"));
    expect(d.hasFreezer()).toBe(false);
    expect(d.isFrozen()).toBe(false);
    expect(() => d.setFrozen(true)).toThrow(/no freezer cgroup/);
    expect(driver([]).hasFreezer()).toBe(false);
  });

  test("a host without cgroups guards no devices; a driver without a path lists no processes", () => {
    expect(driver([]).planResources({}).devices).toEqual({ kind: "none" });
    expect(driver(HYBRID, "").pids()).toEqual([]);
    expect(driver(HYBRID, "/").pids()).toEqual([]);
  });
});

describe("the resource plan (pure)", () => {
  test("v1: each write in its controller's directory, in the writers' order", () => {
    expect(fileLines(HYBRID)).toEqual([
      "/sys/fs/cgroup/memory/tsrun/c1/memory.limit_in_bytes=1048576",
      "/sys/fs/cgroup/cpu,cpuacct/tsrun/c1/cpu.shares=512",
      "/sys/fs/cgroup/pids/tsrun/c1/pids.max=10",
    ]);
  });

  test("v2: every write in the container's one directory, shares as a weight", () => {
    const lines = fileLines(UNIFIED);
    expect(lines).toEqual(expect.arrayContaining(["/sys/fs/cgroup/tsrun/c1/memory.max=1048576", "/sys/fs/cgroup/tsrun/c1/pids.max=10"]));
    expect(lines.some((l) => l.startsWith("/sys/fs/cgroup/tsrun/c1/cpu.weight="))).toBe(true);
    expect(lines.every((l) => l.startsWith("/sys/fs/cgroup/tsrun/c1/"))).toBe(true);
  });

  test("a controller the host does not mount has no directory in the plan (apply then says so)", () => {
    const w = driver(LEGACY.filter((h) => h.controllers !== "pids")).planResources({ pids: { limit: 10 } }).writes;
    expect(w).toEqual([expect.objectContaining({ file: "pids.max", dir: undefined, field: "/linux/resources/pids/limit" })]);
  });

  test("the device rules: the config's, then runc's defaults; on v1 a fresh cgroup is denied all first", () => {
    const plan = driver(HYBRID).planResources({}, { rules: [{ allow: true, type: "c", major: 10, minor: 200, access: "rwm" }] });
    expect(plan.deviceRules[0]).toMatchObject({ allow: true, type: "c", major: 10, minor: 200, access: "rwm" });
    expect(plan.deviceRules.length).toBeGreaterThan(1);
    expect(plan.devices.kind === "v1" && plan.devices.writes[0]).toEqual({ file: "devices.deny", line: "a" });
  });

  test("config errors are raised by the plan and name their field", () => {
    const unifiedOnV1 = thrown(() => driver(HYBRID).planResources({ unified: { "pids.max": "5" } }));
    expect(unifiedOnV1).toBeInstanceOf(ConfigError);
    expect(unifiedOnV1.message).toMatch(/\/linux\/resources\/unified/);

    const badSwappiness = thrown(() => driver(LEGACY).planResources({ memory: { swappiness: 101 } }));
    expect(badSwappiness.message).toMatch(/\/linux\/resources\/memory\/swappiness/);

    const badPage = thrown(() => driver(UNIFIED).planResources({ hugepageLimits: [{ pageSize: "2XB", limit: 1 }] }));
    expect(badPage).toBeInstanceOf(ConfigError);
    expect(badPage.message).toMatch(/\/linux\/resources\/hugepageLimits\/0\/pageSize/);

    for (const hs of [HYBRID, UNIFIED]) {
      const badRule = thrown(() => driver(hs).planResources({}, { rules: [{ allow: true, type: "x" as "c" }] }));
      expect(badRule).toBeInstanceOf(ConfigError);
      expect(badRule.message).toMatch(/\/linux\/resources\/devices\/0\/type/);
    }
  });

  test("a device rule error comes before a resource error (the order create has always reported them in)", () => {
    const e = thrown(() => driver(HYBRID).planResources({ unified: { "pids.max": "5" } }, { rules: [{ allow: "yes" as unknown as boolean }] }));
    expect(e.message).toMatch(/\/linux\/resources\/devices\/0\/allow/);
  });
});

describe("what cgroup mounts show (data for the rootfs planner)", () => {
  test("hybrid: a tmpfs with one mount per hierarchy, co-mounted controllers linked", () => {
    const m = driver(HYBRID).mounts();
    expect(m.cgroup.tmpfs).toBe(true);
    expect(m.cgroup.mounts.map((x) => [x.sub, x.fstype, x.data, x.hostDir])).toEqual([
      ["systemd", "cgroup", "name=systemd", "/sys/fs/cgroup/systemd/tsrun/c1"],
      ["cpu,cpuacct", "cgroup", "cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/tsrun/c1"],
      ["memory", "cgroup", "memory", "/sys/fs/cgroup/memory/tsrun/c1"],
      ["pids", "cgroup", "pids", "/sys/fs/cgroup/pids/tsrun/c1"],
      ["freezer", "cgroup", "freezer", "/sys/fs/cgroup/freezer/tsrun/c1"],
      ["devices", "cgroup", "devices", "/sys/fs/cgroup/devices/tsrun/c1"],
      ["unified", "cgroup2", "", "/sys/fs/cgroup/unified/tsrun/c1"],
    ]);
    expect(m.cgroup.mounts[1].links).toEqual(["cpu", "cpuacct"]);
    expect(m.cgroup2).toMatchObject({ fstype: "cgroup2", hostDir: "/sys/fs/cgroup/unified/tsrun/c1" });
  });

  test("unified: the container's own cgroup2 directory at the destination; legacy has no cgroup2 to show", () => {
    const m = driver(UNIFIED).mounts();
    expect(m.cgroup).toEqual({ tmpfs: false, mounts: [{ sub: "", fstype: "cgroup2", data: "", hostDir: "/sys/fs/cgroup/tsrun/c1", links: [] }] });
    expect(m.cgroup2).toEqual(m.cgroup.mounts[0]);
    expect(driver(LEGACY).mounts().cgroup2).toBeNull();
  });
});

describe("cgroupMembers (what state, list, kill, delete, pause and ps use, without loading the drivers)", () => {
  // Hierarchies whose mount points are scratch directories: the freezer files are ours to write.
  const dir = mkdtempSync(join(tmpdir(), "tsrun-frozen-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const hybrid: CgroupHierarchy[] = [
    { mountPoint: join(dir, "freezer"), version: 1, controllers: "freezer" },
    { mountPoint: join(dir, "unified"), version: 2, controllers: "" },
  ];
  const unified: CgroupHierarchy[] = [{ mountPoint: join(dir, "v2"), version: 2, controllers: "" }];
  const put = (file: string, text: string) => {
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, text);
  };
  test.each([
    ["hybrid: the v1 freezer", hybrid, "freezer/c1/freezer.state", "FROZEN\n", "THAWED\n"],
    ["unified: cgroup.events", unified, "v2/c1/cgroup.events", "populated 1\nfrozen 1\n", "populated 1\nfrozen 0\n"],
  ])("%s: the same answer as the driver's isFrozen, frozen and thawed", (_name, h, file, frozen, thawed) => {
    const d = cgroupDriver("/c1", { hierarchies: h });
    expect([cgroupMembers("/missing", h).isFrozen(), cgroupDriver("/missing", { hierarchies: h }).isFrozen()]).toEqual([false, false]);
    put(join(dir, file), frozen);
    expect([cgroupMembers("/c1", h).isFrozen(), d.isFrozen()]).toEqual([true, true]);
    put(join(dir, file), thawed);
    expect([cgroupMembers("/c1", h).isFrozen(), d.isFrozen()]).toEqual([false, false]);
  });
  test("the same freezer and the same directories as the driver's on every kind of host", () => {
    for (const h of [hybrid, unified, []]) {
      const d = cgroupDriver("/c3", { hierarchies: h }), m = cgroupMembers("/c3", h);
      expect([m.path, m.hasFreezer(), m.pids()]).toEqual([d.path, d.hasFreezer(), d.pids()]);
    }
  });
  test("a hybrid host's cgroup2 directory does not decide (runc reads the v1 freezer there)", () => {
    put(join(dir, "unified/c2/cgroup.events"), "frozen 1\n");
    expect(cgroupMembers("/c2", hybrid).isFrozen()).toBe(false);
    expect(cgroupDriver("/c2", { hierarchies: hybrid }).isFrozen()).toBe(false);
  });
});
