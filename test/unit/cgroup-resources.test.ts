import { cgroupDriver } from "../../src/cgroups/driver.js";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import type { CgroupWrite } from "../../src/cgroups/resource-writes.js";
import { missingFileMessage } from "../../src/cgroups/apply.js";
import { v1Writes } from "../../src/cgroups/resources-v1.js";
import { blkioToIoWeight, sharesToWeight, swapToV2, v2Writes } from "../../src/cgroups/resources-v2.js";
import { ConfigError, UsageError } from "../../src/errors.js";
import type { LinuxResources } from "../../src/spec/types.js";
import { UPDATE_FLAGS, checkResourcesDoc, mergeResources, parseBytes, resourcesFromFlags } from "../../src/lifecycle/update.js";

/** "file=value" lines, the compact form to compare plans with. */
const lines = (ws: CgroupWrite[]) => ws.map((w) => `${w.file}=${w.value}`);
const byFile = (ws: CgroupWrite[], file: string) => ws.filter((w) => w.file === file);

describe("cgroup v1 writes", () => {
  test("memory: limit, memsw, soft limit, swappiness, oom, hierarchy, in that order", () => {
    const { writes, warnings } = v1Writes({
      memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, swappiness: 10, disableOOMKiller: true, useHierarchy: true },
    });
    expect(lines(writes)).toEqual([
      "memory.limit_in_bytes=67108864",
      "memory.memsw.limit_in_bytes=134217728",
      "memory.soft_limit_in_bytes=33554432",
      "memory.swappiness=10",
      "memory.oom_control=1",
      "memory.use_hierarchy=1",
    ]);
    expect(writes.every((w) => w.controller === "memory")).toBe(true);
    expect(writes[0].field).toBe("/linux/resources/memory/limit");
    expect(writes[1].field).toBe("/linux/resources/memory/swap");
    expect(warnings).toEqual([]);
  });

  test("memory: memsw goes first when it grows past the current limit, or is unlimited", () => {
    const grow = v1Writes({ memory: { limit: 128 << 20, swap: 256 << 20 } }, { memoryLimit: 64 << 20 });
    expect(lines(grow.writes)).toEqual(["memory.memsw.limit_in_bytes=268435456", "memory.limit_in_bytes=134217728"]);
    const shrink = v1Writes({ memory: { limit: 32 << 20, swap: 32 << 20 } }, { memoryLimit: 64 << 20 });
    expect(lines(shrink.writes)).toEqual(["memory.limit_in_bytes=33554432", "memory.memsw.limit_in_bytes=33554432"]);
    const unlimited = v1Writes({ memory: { limit: 32 << 20, swap: -1 } });
    expect(lines(unlimited.writes)).toEqual(["memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=33554432"]);
  });

  test("memory: -1 limit with no swap makes both unlimited (runc), swap only where the host accounts it", () => {
    const { writes } = v1Writes({ memory: { limit: -1 } }, { memoryLimit: 32 << 20 });
    expect(lines(writes)).toEqual(["memory.memsw.limit_in_bytes=-1", "memory.limit_in_bytes=-1"]);
    expect(writes[0]).toMatchObject({ field: "/linux/resources/memory/limit", ifMissing: "" });
    // An explicit swap limit is not optional: a host without memsw fails it naming the field.
    const explicit = v1Writes({ memory: { limit: -1, swap: -1 } }).writes[0];
    expect(explicit.field).toBe("/linux/resources/memory/swap");
    expect("ifMissing" in explicit).toBe(false);
  });

  test("cpu: a shrinking period goes after the quota when a quota is in force (a parent's quota checks each step)", () => {
    const cpu = { quota: 20000, period: 50000 };
    expect(lines(v1Writes({ cpu }, { cpuPeriod: 100000, cpuQuota: 40000 }).writes)).toEqual(["cpu.cfs_quota_us=20000", "cpu.cfs_period_us=50000"]);
    const grow = { quota: 40000, period: 100000 };
    expect(lines(v1Writes({ cpu: grow }, { cpuPeriod: 50000, cpuQuota: 20000 }).writes)).toEqual(["cpu.cfs_period_us=100000", "cpu.cfs_quota_us=40000"]);
    // No quota in force: any period is accepted first.
    expect(lines(v1Writes({ cpu }, { cpuPeriod: 100000, cpuQuota: -1 }).writes)).toEqual(["cpu.cfs_period_us=50000", "cpu.cfs_quota_us=20000"]);
  });

  test("memory: swap below limit and bad swappiness are ConfigErrors naming the field", () => {
    expect(() => v1Writes({ memory: { limit: 64, swap: 32 } })).toThrow(/\/linux\/resources\/memory\/swap: .*below the memory limit/);
    expect(() => v1Writes({ memory: { swappiness: 101 } })).toThrow(ConfigError);
    expect(() => v1Writes({ memory: { swappiness: 101 } })).toThrow(/memory\/swappiness/);
  });

  test("memory: kernel is ignored with a warning; kernelTCP is written where the kernel has it", () => {
    const { writes, warnings } = v1Writes({ memory: { kernel: 1 << 20, kernelTCP: 2 << 20 } });
    expect(lines(writes)).toEqual(["memory.kmem.tcp.limit_in_bytes=2097152"]);
    expect(writes[0].ifMissing).toMatch(/kernelTCP ignored/);
    expect(warnings).toEqual([expect.stringMatching(/^\/linux\/resources\/memory\/kernel ignored/)]);
  });

  test("cpu: a v1 kernel without cpu.cfs_burst_us skips the burst with a warning (runc skips it); cpu.idle fails there", () => {
    const [burst, idle] = v1Writes({ cpu: { burst: 1000, idle: 1 } }).writes;
    expect(burst.file).toBe("cpu.cfs_burst_us");
    expect(burst.ifMissing).toBe("/linux/resources/cpu/burst ignored: this kernel has no cpu.cfs_burst_us (Linux 5.14 or later with CFS bandwidth control)");
    expect(idle.ifMissing).toBeUndefined();
    expect(missingFileMessage(idle)).toMatch(/cpu\/idle: this host's cgroup has no cpu.idle \(it needs Linux 5.15/);
  });

  test("cpu: cpuset first, rt period before runtime, period before quota, burst after", () => {
    const { writes } = v1Writes({
      cpu: { shares: 512, quota: 50000, period: 100000, burst: 1000, realtimeRuntime: 950, realtimePeriod: 1000, cpus: "0-1", mems: "0", idle: 0 },
    });
    expect(lines(writes)).toEqual([
      "cpuset.cpus=0-1",
      "cpuset.mems=0",
      "cpu.rt_period_us=1000",
      "cpu.rt_runtime_us=950",
      "cpu.shares=512",
      "cpu.cfs_period_us=100000",
      "cpu.cfs_quota_us=50000",
      "cpu.cfs_burst_us=1000",
      "cpu.idle=0",
    ]);
    expect(byFile(writes, "cpuset.cpus")[0].controller).toBe("cpuset");
    expect(byFile(writes, "cpu.shares")[0].field).toBe("/linux/resources/cpu/shares");
    expect(lines(v1Writes({ cpu: { quota: -1 } }).writes)).toEqual(["cpu.cfs_quota_us=-1"]);
  });

  test("pids (runtime-spec 1.3): positive as is, 0 a limit of zero, -1 unlimited, absent untouched", () => {
    expect(lines(v1Writes({ pids: { limit: 50 } }).writes)).toEqual(["pids.max=50"]);
    expect(lines(v1Writes({ pids: { limit: -1 } }).writes)).toEqual(["pids.max=max"]);
    expect(lines(v1Writes({ pids: { limit: 0 } }).writes)).toEqual(["pids.max=0"]);
    expect(lines(v1Writes({ pids: {} }).writes)).toEqual([]);
  });

  test("blkio: weight (bfq fallback), leaf weight, per-device weights, throttles", () => {
    const { writes } = v1Writes({
      blockIO: {
        weight: 300,
        leafWeight: 200,
        weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 2048 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 50 }],
      },
    });
    expect(lines(writes)).toEqual([
      "blkio.weight=300",
      "blkio.leaf_weight=200",
      "blkio.weight_device=8:0 500",
      "blkio.leaf_weight_device=8:0 100",
      "blkio.throttle.read_bps_device=8:0 1048576",
      "blkio.throttle.write_bps_device=8:16 2048",
      "blkio.throttle.read_iops_device=8:0 100",
      "blkio.throttle.write_iops_device=8:0 50",
    ]);
    expect(writes[0].fallback).toEqual({ file: "blkio.bfq.weight", value: "300" });
    expect(writes[2].fallback).toEqual({ file: "blkio.bfq.weight_device", value: "8:0 500" });
    expect(writes[4].field).toBe("/linux/resources/blockIO/throttleReadBpsDevice/0");
  });

  test("hugetlb, net_cls/net_prio (optional), rdma", () => {
    const { writes } = v1Writes({
      hugepageLimits: [{ pageSize: "2MB", limit: 4194304 }],
      network: { classID: 0x100001, priorities: [{ name: "eth0", priority: 5 }] },
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
    });
    expect(lines(writes)).toEqual([
      "hugetlb.2MB.limit_in_bytes=4194304",
      "hugetlb.2MB.rsvd.limit_in_bytes=4194304",
      "net_cls.classid=1048577",
      "net_prio.ifpriomap=eth0 5",
      "rdma.max=mlx5_1 hca_handle=3 hca_object=10000",
    ]);
    expect(writes[1].ifMissing).toBe("");
    expect(writes[2].ifMissing).toMatch(/net_cls controller is not mounted/);
    expect(writes[3].controller).toBe("net_prio");
    expect(writes[4].controller).toBe("rdma");
  });

  test("unified is refused on v1, naming /linux/resources/unified", () => {
    expect(() => v1Writes({ unified: { "memory.high": "1G" } })).toThrow(/\/linux\/resources\/unified: invalid configuration: cannot use unified on cgroup v1/);
    expect(v1Writes({ unified: {} }).writes).toEqual([]);
  });

  test("devices are left to the device cgroup writer", () => {
    expect(v1Writes({ devices: [{ allow: false, access: "rwm" }] }).writes).toEqual([]);
    expect(v2Writes({ devices: [{ allow: false, access: "rwm" }] }).writes).toEqual([]);
  });
});

describe("v1 -> v2 conversions", () => {
  test("cpu shares -> cpu.weight (crun's curve: ends and the default map onto each other)", () => {
    expect(sharesToWeight(0)).toBe(0);
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(1)).toBe(1);
    expect(sharesToWeight(1024)).toBe(100);
    expect(sharesToWeight(512)).toBe(59);
    expect(sharesToWeight(2048)).toBe(174);
    expect(sharesToWeight(262144)).toBe(10000);
    expect(sharesToWeight(1 << 20)).toBe(10000);
    // monotonic over the whole range
    let prev = 0;
    for (let s = 2; s <= 262144; s += 97) {
      const w = sharesToWeight(s);
      expect(w).toBeGreaterThanOrEqual(prev);
      prev = w;
    }
  });

  test("blkio weight -> io.weight (linear 10..1000 -> 1..10000)", () => {
    expect(blkioToIoWeight(0)).toBe(0);
    expect(blkioToIoWeight(10)).toBe(1);
    expect(blkioToIoWeight(500)).toBe(4950);
    expect(blkioToIoWeight(1000)).toBe(10000);
  });

  test("memory+swap -> memory.swap.max (swap alone)", () => {
    const f = "/f";
    expect(swapToV2(64, 128, f)).toBe("64");
    expect(swapToV2(64, 64, f)).toBe("0");
    expect(swapToV2(64, -1, f)).toBe("max");
    expect(swapToV2(-1, undefined, f)).toBe("max");
    expect(swapToV2(64, undefined, f)).toBeUndefined();
    expect(swapToV2(64, 0, f)).toBeUndefined();
    expect(() => swapToV2(undefined, 128, f)).toThrow(/\/f: a swap limit needs a memory limit/);
    expect(() => swapToV2(-1, 128, f)).toThrow(ConfigError);
  });
});

describe("cgroup v2 writes", () => {
  test("memory: swap.max first, then max and low; v1-only knobs are warnings", () => {
    const { writes, warnings } = v2Writes({
      memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, kernel: 1, kernelTCP: 1, swappiness: 0, disableOOMKiller: true, useHierarchy: false },
    });
    expect(lines(writes)).toEqual(["memory.swap.max=67108864", "memory.max=67108864", "memory.low=33554432"]);
    expect(writes.map((w) => w.field)).toEqual(["/linux/resources/memory/swap", "/linux/resources/memory/limit", "/linux/resources/memory/reservation"]);
    expect(warnings.map((w) => w.split(" ")[0])).toEqual([
      "/linux/resources/memory/kernel",
      "/linux/resources/memory/kernelTCP",
      "/linux/resources/memory/swappiness",
      "/linux/resources/memory/disableOOMKiller",
      "/linux/resources/memory/useHierarchy",
    ]);
  });

  test("memory: -1 is max; swap equal to limit is swap.max 0", () => {
    expect(lines(v2Writes({ memory: { limit: -1 } }).writes)).toEqual(["memory.swap.max=max", "memory.max=max"]);
    expect(lines(v2Writes({ pids: { limit: 0 } }).writes)).toEqual(["pids.max=0"]);
    expect(lines(v2Writes({ pids: { limit: -1 } }).writes)).toEqual(["pids.max=max"]);
    expect(lines(v2Writes({ memory: { limit: 32, swap: 32 } }).writes)).toEqual(["memory.swap.max=0", "memory.max=32"]);
  });

  test("cpu: weight, cpu.max, burst, idle, cpuset", () => {
    const { writes } = v2Writes({ cpu: { shares: 1024, quota: 50000, period: 100000, burst: 1000, idle: 1, cpus: "0", mems: "0" } });
    expect(lines(writes)).toEqual(["cpuset.cpus=0", "cpuset.mems=0", "cpu.weight=100", "cpu.max=50000 100000", "cpu.max.burst=1000", "cpu.idle=1"]);
    expect(writes.map((w) => w.controller)).toEqual(["cpuset", "cpuset", "cpu", "cpu", "cpu", "cpu"]);
    expect(lines(v2Writes({ cpu: { quota: -1, period: 50000 } }).writes)).toEqual(["cpu.max=max 50000"]);
    expect(lines(v2Writes({ cpu: { quota: 20000 } }).writes)).toEqual(["cpu.max=20000"]);
    expect(lines(v2Writes({ cpu: { period: 50000 } }).writes)).toEqual(["cpu.max=max 50000"]);
  });

  test("cpu.idle and cpu.max.burst: a kernel without them fails the write, saying what it needs (runc fails too); idle is 0 or 1", () => {
    const { writes } = v2Writes({ cpu: { burst: 1000, idle: 1 } });
    for (const w of writes) expect(w.ifMissing).toBeUndefined();
    expect(missingFileMessage(writes[0])).toBe("/linux/resources/cpu/burst: this host's cgroup has no cpu.max.burst (it needs Linux 5.14 or later with CFS bandwidth control)");
    expect(missingFileMessage(writes[1])).toBe("/linux/resources/cpu/idle: this host's cgroup has no cpu.idle (it needs Linux 5.15 or later with fair group scheduling)");
    for (const writer of [(r: LinuxResources) => v2Writes(r), (r: LinuxResources) => v1Writes(r)]) {
      expect(() => writer({ cpu: { idle: 2 } })).toThrow(/\/linux\/resources\/cpu\/idle: must be 0 \(the default\) or 1 \(SCHED_IDLE\), not 2/);
      expect(() => writer({ cpu: { idle: -1 } })).toThrow(ConfigError);
      expect(lines(writer({ cpu: { idle: 0 } }).writes)).toEqual(["cpu.idle=0"]);
    }
  });

  test("cpu: realtime is refused on v2 with its field", () => {
    expect(() => v2Writes({ cpu: { realtimeRuntime: 1000 } })).toThrow(/\/linux\/resources\/cpu\/realtimeRuntime: realtime/);
    expect(() => v2Writes({ cpu: { realtimePeriod: 1000 } })).toThrow(/cpu\/realtimePeriod/);
  });

  test("pids, io (bfq weight or converted io.weight, io.max), hugetlb, rdma", () => {
    const { writes, warnings } = v2Writes({
      pids: { limit: 2048 },
      blockIO: {
        weight: 500,
        leafWeight: 10,
        weightDevice: [{ major: 8, minor: 0, weight: 100 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 0 }],
      },
      hugepageLimits: [{ pageSize: "1GB", limit: 1 << 30 }],
      rdma: { mlx4_0: { hcaHandles: 2 } },
    });
    expect(lines(writes)).toEqual([
      "pids.max=2048",
      "io.bfq.weight=500",
      "io.bfq.weight=8:0 100",
      "io.max=8:0 rbps=1000",
      "io.max=8:0 wiops=max",
      "hugetlb.1GB.max=1073741824",
      "hugetlb.1GB.rsvd.max=1073741824",
      "rdma.max=mlx4_0 hca_handle=2",
    ]);
    expect(writes[1].fallback).toEqual({ file: "io.weight", value: "default 4950" });
    expect(writes[2].fallback).toEqual({ file: "io.weight", value: "8:0 910" });
    expect(writes.map((w) => w.controller)).toEqual(["pids", "io", "io", "io", "io", "hugetlb", "hugetlb", "rdma"]);
    expect(warnings).toEqual([expect.stringMatching(/blockIO\/leafWeight ignored/)]);
  });

  test("network is a warning on v2 (no net_cls/net_prio)", () => {
    const { writes, warnings } = v2Writes({ network: { classID: 1, priorities: [{ name: "eth0", priority: 1 }] } });
    expect(writes).toEqual([]);
    expect(warnings).toHaveLength(2);
  });

  test("unified keys are written last, as given; bad keys are refused with their field", () => {
    const { writes } = v2Writes({ memory: { limit: 100 }, unified: { "memory.max": "200", "cgroup.max.depth": "3", "io.latency": "8:0 target=10" } });
    expect(lines(writes)).toEqual(["memory.max=100", "memory.max=200", "cgroup.max.depth=3", "io.latency=8:0 target=10"]);
    expect(writes[1].field).toBe("/linux/resources/unified/memory.max");
    expect(writes[2].controller).toBe("cgroup");
    expect(() => v2Writes({ unified: { "../x.y": "1" } })).toThrow(/unified\/..~1x.y: must be a cgroup v2 file name/);
    expect(() => v2Writes({ unified: { nodot: "1" } })).toThrow(ConfigError);
  });

  test("bad hugepage size names its field", () => {
    expect(() => v2Writes({ hugepageLimits: [{ pageSize: "2XB", limit: 1 }] })).toThrow(/hugepageLimits\/0\/pageSize/);
  });
});

describe("writer by host layout", () => {
  const writesFor = (r: LinuxResources, hierarchies: CgroupHierarchy[]) => cgroupDriver("/tsrun/c1", { hierarchies }).planResources(r);
  const v1: CgroupHierarchy = { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" };
  const v2: CgroupHierarchy = { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" };
  const r = { memory: { limit: 100 } };
  test("hybrid and legacy use v1; unified uses v2", () => {
    expect(lines(writesFor(r, [v1, v2]).writes)).toEqual(["memory.limit_in_bytes=100"]);
    expect(lines(writesFor(r, [v1]).writes)).toEqual(["memory.limit_in_bytes=100"]);
    expect(lines(writesFor(r, [{ ...v2, mountPoint: "/sys/fs/cgroup" }]).writes)).toEqual(["memory.max=100"]);
  });
  test("unified keys are refused on a hybrid host", () => {
    expect(() => writesFor({ unified: { "pids.max": "5" } }, [v1, v2])).toThrow(/\/linux\/resources\/unified/);
  });
});

describe("update: sizes, flags, merging", () => {
  test("sizes as runc parses them (binary units)", () => {
    expect(parseBytes("64m", "memory")).toBe(64 << 20);
    expect(parseBytes("1g", "memory")).toBe(1 << 30);
    expect(parseBytes("1G", "memory")).toBe(1 << 30);
    expect(parseBytes("512k", "memory")).toBe(512 << 10);
    expect(parseBytes("2mb", "memory")).toBe(2 << 20);
    expect(parseBytes("2MiB", "memory")).toBe(2 << 20);
    expect(parseBytes("1.5g", "memory")).toBe(1.5 * 2 ** 30);
    expect(parseBytes("1024", "memory")).toBe(1024);
    expect(parseBytes("100b", "memory")).toBe(100);
    expect(parseBytes("1t", "memory")).toBe(2 ** 40);
    expect(parseBytes("-1", "memory-swap")).toBe(-1);
    expect(() => parseBytes("12x", "memory")).toThrow(/--memory: invalid size "12x"/);
    expect(() => parseBytes("-5", "memory")).toThrow(UsageError);
  });

  test("flags build only the fields given", () => {
    expect(resourcesFromFlags({ memory: "64m", "memory-swap": "-1", "cpu-quota": "-1", "cpu-period": "100000", "pids-limit": "10", "cpuset-cpus": "0" })).toEqual({
      memory: { limit: 64 << 20, swap: -1 },
      cpu: { quota: -1, period: 100000, cpus: "0" },
      pids: { limit: 10 },
    });
    expect(
      resourcesFromFlags({
        "memory-reservation": "1m",
        "kernel-memory": "1m",
        "kernel-memory-tcp": "2m",
        "cpu-share": "512",
        "cpu-rt-period": "1000",
        "cpu-rt-runtime": "500",
        "cpuset-mems": "0",
        "blkio-weight": "300",
      }),
    ).toEqual({
      memory: { reservation: 1 << 20, kernel: 1 << 20, kernelTCP: 2 << 20 },
      cpu: { shares: 512, realtimePeriod: 1000, realtimeRuntime: 500, mems: "0" },
      blockIO: { weight: 300 },
    });
    expect(resourcesFromFlags({})).toEqual({});
    expect(() => resourcesFromFlags({ "cpu-period": "1.5" })).toThrow(/--cpu-period: "1.5" is not an integer/);
    expect(() => resourcesFromFlags({ "cpu-share": "-3" })).toThrow(/--cpu-share: must be at least 0/);
  });

  test("--cpu-burst and --cpu-idle (runc 1.2+) set cpu.burst and cpu.idle; a negative burst is refused", () => {
    expect(resourcesFromFlags({ "cpu-burst": "20000", "cpu-idle": "1" })).toEqual({ cpu: { burst: 20000, idle: 1 } });
    expect(resourcesFromFlags({ "cpu-idle": "0" })).toEqual({ cpu: { idle: 0 } });
    expect(() => resourcesFromFlags({ "cpu-burst": "-1" })).toThrow(/--cpu-burst: must be at least 0/);
    expect(() => resourcesFromFlags({ "cpu-idle": "yes" })).toThrow(/--cpu-idle: "yes" is not an integer/);
  });

  test("runc's update flags are all there", () => {
    expect(UPDATE_FLAGS.map((f) => f.name).sort()).toEqual(
      [
        "blkio-weight", "cpu-burst", "cpu-idle", "cpu-period", "cpu-quota", "cpu-rt-period", "cpu-rt-runtime", "cpu-share", "cpuset-cpus", "cpuset-mems",
        "kernel-memory", "kernel-memory-tcp", "memory", "memory-reservation", "memory-swap", "pids-limit",
      ].sort(),
    );
  });

  test("merging is cumulative: sections merge, lists and scalars are replaced", () => {
    const base = { memory: { limit: 64, swap: 128 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 50 }, blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] } };
    const merged = mergeResources(base, { memory: { limit: 32 }, pids: { limit: 10 }, blockIO: { throttleReadBpsDevice: [] } });
    expect(merged).toEqual({ memory: { limit: 32, swap: 128 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 10 }, blockIO: { throttleReadBpsDevice: [] } });
    expect(base.memory.limit).toBe(64);
    expect(mergeResources({}, { unified: { "a.b": "1" } })).toEqual({ unified: { "a.b": "1" } });
    expect(mergeResources({ unified: { "a.b": "1" } }, { unified: { "c.d": "2" } })).toEqual({ unified: { "a.b": "1", "c.d": "2" } });
  });

  test("merging a memory limit of -1 without swap lifts the swap limit in force (runc)", () => {
    const base = { memory: { limit: 64, swap: 128, reservation: 32 } };
    expect(mergeResources(base, { memory: { limit: -1 } })).toEqual({ memory: { limit: -1, reservation: 32 } });
    expect(mergeResources(base, { memory: { limit: -1, swap: -1 } })).toEqual({ memory: { limit: -1, swap: -1, reservation: 32 } });
    expect(mergeResources(base, { memory: { limit: 96 } })).toEqual({ memory: { limit: 96, swap: 128, reservation: 32 } });
    expect(base.memory.swap).toBe(128);
  });

  test("a --resources document is validated with paths inside it", () => {
    expect(checkResourcesDoc({ memory: { limit: 1 } }, "--resources f")).toEqual({ memory: { limit: 1 } });
    expect(() => checkResourcesDoc({ memory: { limit: "big" } }, "--resources f")).toThrow(/^--resources f: \/memory\/limit: must be integer/);
  });
});
