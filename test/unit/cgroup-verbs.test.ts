/**
 * The pure parts of pause/resume, ps and events: freezer files, the stats readers of both cgroup
 * versions (on sample file texts), ps output filtering, durations.
 */
import { parseFlatKeyed, v1FreezerOf, v2FreezerOf, parseFreezerState } from "../../src/cgroups/freezer.js";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { parseProcs } from "../../src/cgroups/procs.js";
import { type CgroupFiles, hugepageSizes, oomKills, parseBlkioV1, parseIoStatV2, parseNumber, parseNumberList, statsV1, statsV2 } from "../../src/cgroups/stats.js";
import { parseDuration } from "../../src/lifecycle/events.js";
import { filterPsOutput } from "../../src/lifecycle/ps.js";

const hybrid: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: "name=systemd" },
  { mountPoint: "/sys/fs/cgroup/freezer", version: 1, controllers: "freezer" },
  { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
];
const unified: CgroupHierarchy[] = [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }];

/** CgroupFiles over a table "controller/file" -> text. */
function fake(table: Record<string, string>): CgroupFiles {
  return {
    read: (c, f) => table[c ? `${c}/${f}` : f] ?? null,
    list: (c) => Object.keys(table).filter((k) => (c ? k.startsWith(`${c}/`) : !k.includes("/"))).map((k) => k.slice(k.indexOf("/") + 1)),
  };
}

describe("freezer", () => {
  test("the v1 freezer of a hybrid host (as runc), cgroup.freeze of a unified one", () => {
    expect(v1FreezerOf("/tsrun/c1", hybrid)).toEqual({ version: 1, dir: "/sys/fs/cgroup/freezer/tsrun/c1" });
    expect(v2FreezerOf("/tsrun/c1", unified)).toEqual({ version: 2, dir: "/sys/fs/cgroup/tsrun/c1" });
    expect(v2FreezerOf("", unified)).toBeNull();
    expect(v1FreezerOf("/x", [{ mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" }])).toBeNull();
  });

  test("freezer.state values; FREEZING is its own state", () => {
    expect(parseFreezerState("FROZEN\n")).toBe("FROZEN");
    expect(parseFreezerState("FREEZING\n")).toBe("FREEZING");
    expect(parseFreezerState("THAWED")).toBe("THAWED");
    expect(() => parseFreezerState("bogus")).toThrow(/unexpected freezer.state/);
  });

  test("flat-keyed files (cgroup.events)", () => {
    expect(parseFlatKeyed("populated 1\nfrozen 1\n")).toEqual({ populated: 1, frozen: 1 });
    expect(parseFlatKeyed("")).toEqual({});
  });
});

test("cgroup.procs", () => {
  expect(parseProcs("12\n345\n\n")).toEqual([12, 345]);
  expect(parseProcs("")).toEqual([]);
});

describe("stats readers", () => {
  test("number files: max and empty are 0", () => {
    expect(parseNumber("42\n")).toBe(42);
    expect(parseNumber("max\n")).toBe(0);
    expect(parseNumber(null)).toBe(0);
    expect(parseNumberList("1 2 3 \n")).toEqual([1, 2, 3]);
  });

  test("v1 blkio lines, Total dropped; v2 io.stat to Read/Write", () => {
    expect(parseBlkioV1("8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n")).toEqual([
      { major: 8, minor: 0, op: "Read", value: 4096 },
      { major: 8, minor: 0, op: "Write", value: 512 },
      { major: 8, minor: 0, op: "Total", value: 4608 },
    ]);
    expect(parseIoStatV2("259:0 rbytes=1024 wbytes=2048 rios=3 wios=4 dbytes=0 dios=0\n")).toEqual({
      bytes: [{ major: 259, minor: 0, op: "Read", value: 1024 }, { major: 259, minor: 0, op: "Write", value: 2048 }],
      ios: [{ major: 259, minor: 0, op: "Read", value: 3 }, { major: 259, minor: 0, op: "Write", value: 4 }],
    });
  });

  test("hugepage sizes from the control file names", () => {
    expect(hugepageSizes(["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.usage_in_bytes", "hugetlb.1GB.max", "cpu.stat"])).toEqual(["1GB", "2MB"]);
  });

  test("v1: cpuacct ticks and throttling, memory entries, pids, blkio, hugetlb, oom counter", () => {
    const s = statsV1(
      fake({
        "cpuacct/cpuacct.usage": "3000000\n",
        "cpuacct/cpuacct.usage_percpu": "1000000 2000000 \n",
        "cpuacct/cpuacct.stat": "user 7\nsystem 3\n",
        "cpu/cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
        "memory/memory.stat": "cache 4096\nrss 8192\ntotal_cache 12288\n",
        "memory/memory.usage_in_bytes": "65536\n",
        "memory/memory.limit_in_bytes": "9223372036854771712\n",
        "memory/memory.max_usage_in_bytes": "131072\n",
        "memory/memory.failcnt": "1\n",
        "memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        "pids/pids.current": "3\n",
        "pids/pids.max": "max\n",
        "blkio/blkio.throttle.io_service_bytes_recursive": "8:0 Read 10\nTotal 10\n",
        "hugetlb/hugetlb.2MB.limit_in_bytes": "0\n",
        "hugetlb/hugetlb.2MB.usage_in_bytes": "2097152\n",
        "hugetlb/hugetlb.2MB.max_usage_in_bytes": "4194304\n",
        "hugetlb/hugetlb.2MB.failcnt": "5\n",
      }),
    );
    expect(s.cpu.usage).toEqual({ total: 3000000, percpu: [1000000, 2000000], kernel: 30_000_000, user: 70_000_000 });
    expect(s.cpu.throttling).toEqual({ periods: 10, throttledPeriods: 2, throttledTime: 5000 });
    expect(s.memory.cache).toBe(12288);
    expect(s.memory.usage).toEqual({ usage: 65536, limit: 9223372036854771712, max: 131072, failcnt: 1 });
    expect(s.memory.swap).toEqual({ usage: 0, limit: 0, max: 0, failcnt: 0 });
    expect(s.memory.raw.rss).toBe(8192);
    expect(s.pids).toEqual({ current: 3, limit: 0 });
    expect(s.blkio.ioServiceBytesRecursive).toEqual([{ major: 8, minor: 0, op: "Read", value: 10 }]);
    expect(s.hugetlb).toEqual({ "2MB": { usage: 2097152, max: 4194304, failcnt: 5 } });
    expect(oomKills(fake({ "memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n" }), 1)).toBe(2);
  });

  test("v2: microseconds to nanoseconds, memory.events max as failcnt, io.stat, pids, oom counter", () => {
    const files = fake({
      "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n",
      "memory.current": "4096\n",
      "memory.max": "max\n",
      "memory.peak": "8192\n",
      "memory.stat": "anon 1024\nfile 2048\nkernel 512\nsock 0\n",
      "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
      "memory.swap.current": "0\n",
      "memory.swap.max": "max\n",
      "pids.current": "2\n",
      "pids.max": "100\n",
      "io.stat": "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n",
      "hugetlb.2MB.max": "max\n",
      "hugetlb.2MB.current": "0\n",
      "hugetlb.2MB.events": "max 0\n",
    });
    const s = statsV2(files);
    expect(s.cpu.usage).toEqual({ total: 1_500_000, percpu: [], kernel: 500_000, user: 1_000_000 });
    expect(s.cpu.throttling).toEqual({ periods: 4, throttledPeriods: 1, throttledTime: 20_000 });
    expect(s.memory.usage).toEqual({ usage: 4096, limit: 0, max: 8192, failcnt: 3 });
    expect(s.memory.cache).toBe(2048);
    expect(s.memory.kernel.usage).toBe(512);
    expect(s.pids).toEqual({ current: 2, limit: 100 });
    expect(s.blkio.ioServicedRecursive).toHaveLength(2);
    expect(s.hugetlb).toEqual({ "2MB": { usage: 0, max: 0, failcnt: 0 } });
    expect(oomKills(files, 2)).toBe(1);
  });

  test("a cgroup without any files gives zeros, not an error", () => {
    const s = statsV1(fake({}));
    expect(s.cpu.usage.total).toBe(0);
    expect(s.pids).toEqual({ current: 0, limit: 0 });
    expect(oomKills(fake({}), 2)).toBe(0);
  });
});

describe("ps output filtering", () => {
  const out = [
    "UID        PID  PPID  C STIME TTY          TIME CMD",
    "root         1     0  0 05:07 ?        00:00:11 /sbin/init",
    "root      8592     1  0 06:25 ?        00:00:00 sh -c sleep 1000",
    "root      8601  8592  0 06:25 ?        00:00:00 sleep 1000",
    "",
  ].join("\n");
  test("keeps the header and the lines of the given pids (PID column, not PPID)", () => {
    expect(filterPsOutput(out, [8601])).toBe(`${out.split("\n")[0]}\n${out.split("\n")[3]}\n`);
    expect(filterPsOutput(out, [])).toBe(`${out.split("\n")[0]}\n`);
  });
  test("the PID column is found from the header", () => {
    expect(filterPsOutput("  PID STAT COMMAND\n 8592 S    sh\n    7 S    x\n", [8592])).toBe("  PID STAT COMMAND\n 8592 S    sh\n");
    expect(() => filterPsOutput("USER COMMAND\nroot x\n", [1])).toThrow(/no PID column/);
  });
});

test("durations as Go writes them", () => {
  expect(parseDuration("5s")).toBe(5000);
  expect(parseDuration("250ms")).toBe(250);
  expect(parseDuration("1m30s")).toBe(90_000);
  expect(parseDuration("1.5s")).toBe(1500);
  for (const bad of ["", "5", "s", "-1s", "0s", "5x"]) expect(() => parseDuration(bad)).toThrow(/invalid duration/);
});
