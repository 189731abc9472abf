/**
 * The systemd cgroup driver's pure parts: the unit a cgroupsPath names (runc's "slice:prefix:name"),
 * the unit properties planned from linux.resources, device rules and org.systemd.property.*
 * annotations, and what planCreate makes of --systemd-cgroup. No systemd is needed: the unit is
 * started for real in the systemd VM group (test/integration/systemd-*.test.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { DEFAULT_DEVICE_RULES, type DeviceRule, WILDCARD } from "../../src/cgroups/devices-rules.js";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { annotationProperties, parseGVariant } from "../../src/cgroups/systemd/annotations.js";
import { deviceProperties, parseProcDevices } from "../../src/cgroups/systemd/device-properties.js";
import { cpuBits, propertiesOfWrites, UINT64_MAX } from "../../src/cgroups/systemd/properties.js";
import { expandSlice, systemdCgroupPath, systemdUnitFor } from "../../src/cgroups/systemd/unit-name.js";
import { v2Writes } from "../../src/cgroups/resources-v2.js";
import { ConfigError, HostError } from "../../src/errors.js";
import { type CreatePlanInput, planCreate } from "../../src/plan/create-plan.js";
import type { LinuxResources } from "../../src/spec/types.js";
import { thrown, writePlanBundle } from "../helpers/plan-bundles.js";


describe("unit names (runc's slice:prefix:name)", () => {
  test("empty: tsrun-<id>.scope in system.slice (rootless: user.slice)", () => {
    expect(systemdUnitFor("c1", undefined, false)).toEqual({ unit: "tsrun-c1.scope", slice: "system.slice" });
    expect(systemdUnitFor("c1", "", true)).toEqual({ unit: "tsrun-c1.scope", slice: "user.slice", user: true });
  });
  test("podman's and containerd CRI's forms", () => {
    expect(systemdUnitFor("abc", "machine.slice:libpod:abc", false)).toEqual({ unit: "libpod-abc.scope", slice: "machine.slice" });
    const k = systemdUnitFor("x", "kubepods-besteffort-pod12.slice:cri-containerd:x", false);
    expect(k).toEqual({ unit: "cri-containerd-x.scope", slice: "kubepods-besteffort-pod12.slice" });
    expect(systemdCgroupPath(k)).toBe("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-x.scope");
    expect(systemdUnitFor("c1", ":tsrun:c1", false).slice).toBe("system.slice");
  });
  test("a user's manager: the path is below its cgroup", () => {
    const u = systemdUnitFor("c1", "", true);
    expect(systemdCgroupPath(u, "/user.slice/user-1000.slice/user@1000.service")).toBe("/user.slice/user-1000.slice/user@1000.service/user.slice/tsrun-c1.scope");
  });
  test("slices nest by their dashes; -.slice is the root", () => {
    expect(expandSlice("system.slice")).toBe("/system.slice");
    expect(expandSlice("a-b-c.slice")).toBe("/a.slice/a-b.slice/a-b-c.slice");
    expect(expandSlice("-.slice")).toBe("/");
  });
  test.each([
    ["/k8s.io/abc", /must be "slice:prefix:name"/],
    ["a:b", /must be "slice:prefix:name"/],
    ["system.slice:x:", /name part .* is empty/],
    ["foo:x:y", /invalid slice "foo"/],
    ["a--b.slice:x:y", /empty part between dashes/],
    ["a/b.slice:x:y", /no slashes/],
    ["system.slice:x:y.slice", /is a slice; a container's unit is a scope/],
    ["system.slice:x:a b", /systemd does not accept/],
  ])("cgroupsPath %j is a ConfigError naming /linux/cgroupsPath", (path, msg) => {
    const e = thrown(() => systemdUnitFor("c1", path, false));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).field).toBe("/linux/cgroupsPath");
    expect(e.message).toMatch(msg);
  });
});

describe("unit properties from linux.resources", () => {
  const props = (r: LinuxResources) => Object.fromEntries(propertiesOfWrites(v2Writes(r, "/linux/resources").writes).map((p) => [p.name, [p.type, p.value]]));
  test("memory: limit, reservation, swap (v2's swap is memory+swap minus memory)", () => {
    expect(props({ memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 } })).toEqual({
      MemoryMax: ["t", BigInt(64 << 20)],
      MemoryLow: ["t", BigInt(32 << 20)],
      MemorySwapMax: ["t", BigInt(32 << 20)],
    });
    expect(props({ memory: { limit: -1 } }).MemoryMax).toEqual(["t", UINT64_MAX]);
  });
  test("cpu: shares as a weight, quota per second rounded up to whole 10 ms, period, cpus and mems as bitmasks", () => {
    const p = props({ cpu: { shares: 1024, quota: 50000, period: 100000, cpus: "0-2,9", mems: "0" } });
    expect(p.CPUWeight).toEqual(["t", 100n]);
    expect(p.CPUQuotaPerSecUSec).toEqual(["t", 500000n]);
    expect(p.CPUQuotaPeriodUSec).toEqual(["t", 100000n]);
    expect(p.AllowedCPUs).toEqual(["ay", [0b111, 0b10]]);
    expect(p.AllowedMemoryNodes).toEqual(["ay", [1]]);
    // 12345 us per 100 ms is 123450 us per second: systemd's granularity is 10 ms per second.
    expect(props({ cpu: { quota: 12345, period: 100000 } }).CPUQuotaPerSecUSec).toEqual(["t", 130000n]);
    expect(props({ cpu: { quota: -1, period: 100000 } }).CPUQuotaPerSecUSec).toEqual(["t", UINT64_MAX]);
  });
  test("pids: a limit as TasksMax, -1 as infinity; io weight in io.weight's range", () => {
    expect(props({ pids: { limit: 100 } }).TasksMax).toEqual(["t", 100n]);
    expect(props({ pids: { limit: -1 } }).TasksMax).toEqual(["t", UINT64_MAX]);
    // runtime-spec 1.3: 0 is a limit of zero tasks, not "no limit"; no limit given sets no TasksMax.
    expect(props({ pids: { limit: 0 } }).TasksMax).toEqual(["t", 0n]);
    expect(props({ pids: {} }).TasksMax).toBeUndefined();
    expect(props({ blockIO: { weight: 500 } }).IOWeight).toEqual(["t", 4950n]);
  });
  test("unified keys systemd knows become properties; the rest only files", () => {
    const p = props({ unified: { "memory.high": "1048576", "cpu.max": "max 50000", "memory.oom.group": "1" } });
    expect(p.MemoryHigh).toEqual(["t", 1048576n]);
    expect(p.CPUQuotaPerSecUSec).toEqual(["t", UINT64_MAX]);
    expect(p.CPUQuotaPeriodUSec).toEqual(["t", 50000n]);
    expect(Object.keys(p)).not.toContain("OOMPolicy");
  });
  test("a CPU list that is not one names its field", () => {
    const e = thrown(() => cpuBits("0-x", "/linux/resources/cpu/cpus"));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/cpu\/cpus/);
  });
});

describe("device rules as DevicePolicy/DeviceAllow", () => {
  const names = parseProcDevices("Character devices:\n  1 mem\n  4 tty\n136 pts\n\nBlock devices:\n  7 loop\n  8 sd\n");
  const rule = (allow: boolean, type: DeviceRule["type"], major: number, minor: number, access: string): DeviceRule => ({ allow, type, major, minor, access, source: "test" });
  test("/proc/devices parsed by section", () => {
    expect(names.char.get(136)).toBe("pts");
    expect(names.block.get(7)).toBe("loop");
    expect(names.char.has(7)).toBe(false);
  });
  test("runc's default rules after a deny-all: strict, each allowed device by number, pts by name, mknod of any", () => {
    const p = deviceProperties([rule(false, "a", WILDCARD, WILDCARD, "rwm"), ...DEFAULT_DEVICE_RULES], names);
    expect(p[0]).toEqual({ name: "DevicePolicy", type: "s", value: "strict" });
    const allow = new Map(p[1].value as [string, string][]);
    expect(p[1].type).toBe("a(ss)");
    expect(allow.get("/dev/char/1:3")).toBe("rwm");
    expect(allow.get("char-pts")).toBe("rwm");
    expect(allow.get("char-*")).toBe("m");
    expect(allow.get("block-*")).toBe("m");
    expect(allow.get("/dev/char/10:200")).toBe("rwm");
  });
  test("allow-all last (privileged): policy auto, no list; a deny after it keeps strict", () => {
    expect(deviceProperties([rule(false, "a", WILDCARD, WILDCARD, "rwm"), rule(true, "a", WILDCARD, WILDCARD, "rwm")], names)).toEqual([{ name: "DevicePolicy", type: "s", value: "auto" }]);
    const p = deviceProperties([rule(true, "a", WILDCARD, WILDCARD, "rwm"), rule(false, "c", 1, 3, "w")], names);
    expect(p[0].value).toBe("strict");
  });
  test("a major /proc/devices does not name: the whole type (the eBPF program keeps the exact rule)", () => {
    const p = deviceProperties([rule(true, "c", 250, WILDCARD, "r")], names);
    expect(p[1].value).toEqual([["char-*", "r"]]);
  });
});

describe("org.systemd.property.* annotations", () => {
  test("GVariant text: typed numbers, strings, booleans, arrays, annotations", () => {
    expect(parseGVariant("uint64 123456789")).toEqual({ type: "t", value: 123456789n });
    expect(parseGVariant("'inactive-or-failed'")).toEqual({ type: "s", value: "inactive-or-failed" });
    expect(parseGVariant("true")).toEqual({ type: "b", value: true });
    expect(parseGVariant("42")).toEqual({ type: "i", value: 42 });
    expect(parseGVariant("[1, 2]")).toEqual({ type: "ai", value: [1, 2] });
    expect(parseGVariant("@as []")).toEqual({ type: "as", value: [] });
    expect(parseGVariant("@t 5")).toEqual({ type: "t", value: 5n });
    expect(() => parseGVariant("[]")).toThrow(/empty array without a type/);
    expect(() => parseGVariant("uint32 -1")).toThrow(/out of range/);
    expect(() => parseGVariant("'open")).toThrow(/unterminated/);
  });
  test("...Sec names become ...USec in microseconds; others pass as given; other annotations ignored", () => {
    expect(
      annotationProperties({
        "org.systemd.property.TimeoutStopSec": "uint64 2",
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.TimeoutStopUSec": "uint64 7",
        "io.kubernetes.foo": "bar",
      }),
    ).toEqual([
      { name: "TimeoutStopUSec", type: "t", value: 2000000n },
      { name: "CollectMode", type: "s", value: "inactive-or-failed" },
      { name: "TimeoutStopUSec", type: "t", value: 7n },
    ]);
  });
  test("a bad name or value is a ConfigError naming the annotation", () => {
    const e = thrown(() => annotationProperties({ "org.systemd.property.A1": "1" }));
    expect((e as ConfigError).field).toBe("/annotations/org.systemd.property.A1");
    const v = thrown(() => annotationProperties({ "org.systemd.property.CPUWeight": "uint64 x" }));
    expect(v).toBeInstanceOf(ConfigError);
    expect(v.message).toMatch(/CPUWeight.*GVariant/);
    expect(thrown(() => annotationProperties({ "org.systemd.property.TimeoutStopSec": "'x'" })).message).toMatch(/number of seconds/);
  });
});

describe("planCreate with --systemd-cgroup", () => {
  const UNIFIED: CgroupHierarchy[] = [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "cpu memory pids io" }];
  const HYBRID: CgroupHierarchy[] = [
    { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
    { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
  ];
  let work: string;
  beforeAll(() => (work = mkdtempSync(join(tmpdir(), "tsrun-sd-plan-"))));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  let n = 0;
  const bundle = (edit: (c: any) => void = () => {}) => writePlanBundle(join(work, `b${n++}`), edit); // eslint-disable-line @typescript-eslint/no-explicit-any
  const input = (dir: string, hierarchies = UNIFIED, running = true): CreatePlanInput => ({
    id: "c1",
    bundle: dir,
    stateDir: join(work, "state", "c1"),
    fifoPath: join(work, "state", "c1", "exec.fifo"),
    systemdCgroup: true,
    host: {
      cgroups: (path, systemd) => cgroupDriver(path, { hierarchies, ...(systemd ? { systemd } : {}) }),
      systemd: { running },
      hostCaps: (1n << 41n) - 1n,
      lastCap: 40,
      isHostNetns: () => false,
      selinux: false,
      hostRoot: true,
    },
  });

  test("the unit, its path, its properties; the init is not cloned into a cgroup (systemd moves it)", () => {
    const plan = planCreate(
      input(
        bundle((c) => {
          c.linux.cgroupsPath = "machine.slice:libpod:c1";
          c.linux.resources = { ...c.linux.resources, memory: { limit: 67108864 }, pids: { limit: 50 } };
          c.annotations = { "org.systemd.property.CollectMode": "'inactive-or-failed'" };
        }),
      ),
    );
    expect(plan.cgroup.path).toBe("/machine.slice/libpod-c1.scope");
    expect(plan.cgroup.systemd?.unit).toEqual({ unit: "libpod-c1.scope", slice: "machine.slice" });
    expect(plan.cgroup.join).toEqual({ cloneInto: "", selfTasks: [], parentJoins: [] });
    expect(plan.cgroup.planned.dirs).toEqual([]);
    const props = new Map(plan.cgroup.planned.unit!.properties.map((p) => [p.name, p.value]));
    expect(props.get("Slice")).toBe("machine.slice");
    expect(props.get("Delegate")).toBe(true);
    expect(props.get("MemoryMax")).toBe(67108864n);
    expect(props.get("TasksMax")).toBe(50n);
    expect(props.get("DevicePolicy")).toBe("strict");
    expect(props.get("CollectMode")).toBe("inactive-or-failed");
  });
  test("a create whose unit never started removes nothing of systemd's (the name may be another container's)", async () => {
    const driver = cgroupDriver("/system.slice/tsrun-c1.scope", { hierarchies: UNIFIED, systemd: { unit: { unit: "tsrun-c1.scope", slice: "system.slice" }, starts: true } });
    // It would have to reach systemd to stop a unit; this host has none, so any attempt fails the test.
    await expect(Promise.resolve(driver.remove())).resolves.toBeUndefined();
  });

  test("no systemd, or a hybrid host: one clear HostError before anything is made", () => {
    expect(thrown(() => planCreate(input(bundle(), UNIFIED, false))).message).toMatch(/systemd is not running/);
    const e = thrown(() => planCreate(input(bundle(), HYBRID)));
    expect(e).toBeInstanceOf(HostError);
    expect(e.message).toMatch(/needs the unified cgroup v2 hierarchy/);
  });
  test("a cgroupfs path with --systemd-cgroup is runc's error, naming the field", () => {
    const e = thrown(() => planCreate(input(bundle((c) => (c.linux.cgroupsPath = "/k8s.io/c1")))));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/linux\/cgroupsPath: must be "slice:prefix:name"/);
  });
});
