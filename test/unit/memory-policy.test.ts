// linux.memoryPolicy (runtime-spec 1.3): the pure plan (mode name -> number, flags ORed in, node list ->
// mask words, checks against the host's nodes) and where buildPlan places the MEMPOLICY record.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import { buildPlan, type PlanSpec } from "../../src/plan/build.js";
import { refuseUnsupported } from "../../src/plan/unsupported.js";
import { MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES, planMemoryPolicy } from "../../src/security/memory-policy.js";
import type { LinuxMemoryPolicy } from "../../src/spec/types.js";
import { fieldOf } from "../helpers/config-error.js";

const ONE_NODE = [1n]; // node 0 only, as on this host
const FOUR_NODES = [0xfn];
const plan = (p: object, nodes: bigint[] | undefined = FOUR_NODES) => planMemoryPolicy(p as LinuxMemoryPolicy, nodes);
const F = "/linux/memoryPolicy";

describe("planMemoryPolicy", () => {
  test("mode numbers are the kernel's (include/uapi/linux/mempolicy.h)", () => {
    expect(MEMORY_POLICY_MODES).toEqual({
      MPOL_DEFAULT: 0, MPOL_PREFERRED: 1, MPOL_BIND: 2, MPOL_INTERLEAVE: 3, MPOL_LOCAL: 4, MPOL_PREFERRED_MANY: 5, MPOL_WEIGHTED_INTERLEAVE: 6,
    });
    expect(MEMORY_POLICY_FLAGS).toEqual({ MPOL_F_NUMA_BALANCING: 0x2000, MPOL_F_RELATIVE_NODES: 0x4000, MPOL_F_STATIC_NODES: 0x8000 });
  });

  test("mode | flags, then the node mask as 64-bit words", () => {
    expect(plan({ mode: "MPOL_BIND", nodes: "0" }, ONE_NODE)).toEqual({ op: Op.MEMPOLICY, ints: [2, 1n], strs: [F] });
    expect(plan({ mode: "MPOL_INTERLEAVE", nodes: "0-1,3" })).toEqual({ op: Op.MEMPOLICY, ints: [3, 0b1011n], strs: [F] });
    expect(plan({ mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES"] }).ints).toEqual([2 | 0x8000, 1n]);
    expect(plan({ mode: "MPOL_BIND", nodes: "1", flags: ["MPOL_F_NUMA_BALANCING"] }).ints).toEqual([2 | 0x2000, 2n]);
    // Node 64 is bit 0 of the second word.
    expect(plan({ mode: "MPOL_PREFERRED", nodes: "64" }, [0n, 1n]).ints).toEqual([1, 0n, 1n]);
  });

  test("modes without nodes: no mask (DEFAULT, LOCAL; PREFERRED with none is local allocation)", () => {
    expect(plan({ mode: "MPOL_DEFAULT" }).ints).toEqual([0]);
    expect(plan({ mode: "MPOL_LOCAL", nodes: "" }).ints).toEqual([4]);
    expect(plan({ mode: "MPOL_PREFERRED" }).ints).toEqual([1]);
  });

  test("a node the host lacks is a ConfigError naming /linux/memoryPolicy/nodes", () => {
    expect(() => plan({ mode: "MPOL_BIND", nodes: "1" }, ONE_NODE)).toThrow(/NUMA node 1 not online/);
    expect(fieldOf(() => plan({ mode: "MPOL_BIND", nodes: "0,5" }, ONE_NODE))).toBe(`${F}/nodes`);
    // Relative node numbers are positions in the allowed set, not node ids: not checked.
    expect(plan({ mode: "MPOL_INTERLEAVE", nodes: "0-3", flags: ["MPOL_F_RELATIVE_NODES"] }, ONE_NODE).ints).toEqual([3 | 0x4000, 0xfn]);
  });

  test("refusals name the field", () => {
    expect(fieldOf(() => plan({ mode: "MPOL_DEFAULT", nodes: "0" }))).toBe(`${F}/nodes`);
    expect(fieldOf(() => plan({ mode: "MPOL_LOCAL", nodes: "0" }))).toBe(`${F}/nodes`);
    for (const mode of ["MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED_MANY"]) {
      expect(fieldOf(() => plan({ mode }))).toBe(`${F}/nodes`);
    }
    expect(fieldOf(() => plan({ mode: "MPOL_BIND", nodes: "0-x" }))).toBe(`${F}/nodes`);
    expect(fieldOf(() => plan({ mode: "MPOL_SOMETIMES" }))).toBe(`${F}/mode`);
    expect(fieldOf(() => plan({ mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_BOGUS"] }))).toBe(`${F}/flags/1`);
    expect(fieldOf(() => plan({ mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"] }))).toBe(`${F}/flags`);
    expect(fieldOf(() => plan({ mode: "MPOL_BIND", nodes: "1024" }, [...Array(17)].map(() => ~0n)))).toBe(`${F}/nodes`);
    // A kernel without NUMA support (no /sys/devices/system/node): any policy is refused.
    expect(fieldOf(() => planMemoryPolicy({ mode: "MPOL_DEFAULT" }, undefined))).toBe(F);
  });

  test("no longer refused as unsupported", () => {
    expect(() => refuseUnsupported({ linux: { memoryPolicy: { mode: "MPOL_BIND", nodes: "0" } } })).not.toThrow();
  });
});

describe("buildPlan places MEMPOLICY", () => {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8")) as PlanSpec;
  const build = (edit: (s: any) => void, numaNodes?: bigint[]): PlanRecord[] => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = JSON.parse(JSON.stringify(BUSYBOX));
    edit(s);
    return buildPlan({
      spec: s, rootfs: "/nonexistent/rootfs", bundle: "/nonexistent", fifoPath: "/run/tsrun/c1/exec.fifo", noPivot: false,
      preserveFds: 0, foreground: false, cgroupMounts: cgroupMountsOf("/tsrun/c1", []), cgroupJoin: { cloneInto: "", selfTasks: [] },
      hostCaps: (1n << 41n) - 1n, lastCap: 40, numaNodes,
    }).records;
  };
  const idx = (recs: PlanRecord[], op: Op) => recs.findIndex((r) => r.op === op);

  test("in the container process, before the fds are marked, the exec fifo wait and the seccomp filter", () => {
    const recs = build((s) => {
      s.linux.memoryPolicy = { mode: "MPOL_BIND", nodes: "0" };
      s.linux.personality = { domain: "LINUX" };
      s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW" };
    }, ONE_NODE);
    const m = idx(recs, Op.MEMPOLICY);
    expect(m).toBeGreaterThan(idx(recs, Op.CLONE));
    expect(m).toBeGreaterThan(idx(recs, Op.PIVOT_ROOT));
    expect(m).toBe(idx(recs, Op.PERSONALITY) + 1);
    expect(m).toBe(idx(recs, Op.CLOEXEC_FROM) - 1);
    expect(m).toBeLessThan(idx(recs, Op.SECCOMP));
    expect(m).toBeLessThan(idx(recs, Op.WAIT_FIFO));
    expect(recs.filter((r) => r.op === Op.MEMPOLICY)).toHaveLength(1);
  });

  test("none without linux.memoryPolicy; a missing node fails the plan before anything runs", () => {
    expect(idx(build(() => {}, ONE_NODE), Op.MEMPOLICY)).toBe(-1);
    expect(fieldOf(() => build((s) => (s.linux.memoryPolicy = { mode: "MPOL_BIND", nodes: "3" }), ONE_NODE))).toBe(`${F}/nodes`);
  });
});
