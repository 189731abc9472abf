// linux.memoryPolicy (runtime-spec 1.3), seen from inside the container: the policy of the process (and
// of the children it forks, which inherit it) is the second field of /proc/self/numa_maps' first line,
// as the kernel prints it ("bind:0", "prefer:0", "interleave:0", "bind=static:0", "default").
// Needs a NUMA-capable kernel (/sys/devices/system/node): where it has none, the refusal is checked.
import { existsSync, readFileSync } from "node:fs";
import { Scratch, ensureBuilt } from "../helpers/tsrun.js";

const NUMA = existsSync("/sys/devices/system/node/online");
const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => {
  expect(s.cleanup()).toEqual([]);
});

function run(memoryPolicy: object) {
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", "head -n 1 /proc/self/numa_maps | cut -d ' ' -f 2"];
    c.linux.memoryPolicy = memoryPolicy;
  });
  return s.tsrun(["run", "--bundle", b, s.id("mpol")]);
}

// Defined only where it can be checked (no skipped tests); the refusal below runs everywhere.
if (!NUMA) console.warn("memory-policy: no /sys/devices/system/node: policies not checked, only their refusal");
if (NUMA) test("the process runs under the policy asked for (node 0)", () => {
  for (const [policy, shown] of [
    [{ mode: "MPOL_BIND", nodes: "0" }, "bind:0"],
    [{ mode: "MPOL_PREFERRED", nodes: "0" }, "prefer:0"],
    [{ mode: "MPOL_INTERLEAVE", nodes: "0" }, "interleave:0"],
    [{ mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES"] }, "bind=static:0"],
    [{ mode: "MPOL_DEFAULT" }, "default"],
  ] as const) {
    const r = run(policy);
    expect({ policy, stderr: r.stderr, status: r.status }).toEqual({ policy, stderr: "", status: 0 });
    expect({ policy, shown: r.stdout.trim() }).toEqual({ policy, shown });
  }
});

test("a node the host does not have fails create naming /linux/memoryPolicy/nodes (or no NUMA: /linux/memoryPolicy)", () => {
  const online = NUMA ? readFileSync("/sys/devices/system/node/online", "utf8").trim() : "";
  const highest = Math.max(0, ...online.split(",").map((x) => Number(x.split("-").at(-1))));
  const r = run({ mode: "MPOL_BIND", nodes: String(highest + 1) });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(NUMA ? /\/linux\/memoryPolicy\/nodes: NUMA node \d+ not online/ : /\/linux\/memoryPolicy: /);
});
