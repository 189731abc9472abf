/**
 * src/cgroups/sub-cgroup.ts: exec --cgroup values (runc's `path` or `controller[,controller...]:path`)
 * and the directory they make the process join in each hierarchy (CgroupSet.joinPlan).
 */
import { CgroupSet } from "../../src/cgroups/cgroupfs.js";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { parseSubCgroups, subCgroupPaths } from "../../src/cgroups/sub-cgroup.js";
import { UsageError } from "../../src/errors.js";

const hybrid: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: "name=systemd" },
  { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", version: 1, controllers: "cpu,cpuacct" },
  { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
  { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
];
const unified: CgroupHierarchy[] = [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }];

describe("parseSubCgroups", () => {
  test("a path alone applies to every hierarchy; it is taken below the container's cgroup", () => {
    expect([...parseSubCgroups(["sub"])]).toEqual([["", "sub"]]);
    expect([...parseSubCgroups(["/a/b/"])]).toEqual([["", "a/b"]]);
    expect([...parseSubCgroups(["a/./b/../c"])]).toEqual([["", "a/c"]]);
    // "/" and "." are the container's cgroup itself (joined explicitly, as runc allows)
    expect([...parseSubCgroups(["/"])]).toEqual([["", ""]]);
    expect([...parseSubCgroups(["."])]).toEqual([["", ""]]);
  });

  test("controller:path, with several controllers and several values", () => {
    expect([...parseSubCgroups(["memory:sub", "cpu,cpuacct:other"])]).toEqual([
      ["memory", "sub"],
      ["cpu", "other"],
      ["cpuacct", "other"],
    ]);
    expect([...parseSubCgroups(["name=systemd:x"])]).toEqual([["name=systemd", "x"]]);
    expect([...parseSubCgroups(["memory:"])]).toEqual([["memory", ""]]);
  });

  test("none given: nothing", () => {
    expect(parseSubCgroups([]).size).toBe(0);
  });

  test.each([
    [["a:b:c"], /invalid --cgroup argument: a:b:c/],
    [["a", "b"], /invalid --cgroup argument: a \(missing <controller>: prefix\)/],
    [["memory:x", "sub"], /invalid --cgroup argument: sub \(missing <controller>: prefix\)/],
    [[":sub"], /empty controller name/],
    [["memory:a", "memory:b"], /controller memory given more than once/],
    [[".."], / \.\. is not a sub cgroup path/],
    [["../sibling"], / \.\.\/sibling is not a sub cgroup path/],
    [["/../x"], / \/\.\.\/x is not a sub cgroup path/],
    [["a/../../x"], /is not a sub cgroup path/],
    [["memory:.."], / \.\. is not a sub cgroup path/],
  ])("%p is refused with a UsageError", (args, message) => {
    expect(() => parseSubCgroups(args)).toThrow(UsageError);
    expect(() => parseSubCgroups(args)).toThrow(message);
  });
});

describe("subCgroupPaths", () => {
  test("a path alone: the same sub-cgroup in every hierarchy, v2 included", () => {
    expect(subCgroupPaths(hybrid, parseSubCgroups(["sub"]))).toEqual(["sub", "sub", "sub", "sub"]);
    expect(subCgroupPaths(unified, parseSubCgroups(["sub"]))).toEqual(["sub"]);
  });

  test("per controller: only its hierarchy moves; controllers mounted together share it", () => {
    expect(subCgroupPaths(hybrid, parseSubCgroups(["memory:m"]))).toEqual(["", "", "m", ""]);
    expect(subCgroupPaths(hybrid, parseSubCgroups(["cpu:c"]))).toEqual(["", "c", "", ""]);
    expect(subCgroupPaths(hybrid, parseSubCgroups(["cpu,cpuacct:c", "name=systemd:s"]))).toEqual(["s", "c", "", ""]);
  });

  test("nothing asked: the container's cgroup everywhere", () => {
    expect(subCgroupPaths(hybrid, new Map())).toEqual(["", "", "", ""]);
  });

  test("an unknown controller, or any controller on a v2-only host, is refused", () => {
    expect(() => subCgroupPaths(hybrid, parseSubCgroups(["whaaat:/"]))).toThrow(/unknown controller whaaat \(this host's: cpu, cpuacct, memory, name=systemd\)/);
    expect(() => subCgroupPaths(unified, parseSubCgroups(["memory:m"]))).toThrow(/unknown controller memory \(this host's: none, cgroup v2 only: give a path alone\)/);
  });

  test("two paths for controllers of one hierarchy are refused", () => {
    expect(() => subCgroupPaths(hybrid, parseSubCgroups(["cpu:a", "cpuacct:b"]))).toThrow(/cpu and cpuacct share one hierarchy/);
  });
});

describe("CgroupSet.joinPlan with sub-cgroups", () => {
  test("the v2 directory to clone into and the v1 tasks files point below the container's cgroup", () => {
    const set = new CgroupSet("/tsrun/c1", hybrid);
    expect(set.joinPlan(false, parseSubCgroups(["memory:m"]))).toEqual({
      cloneInto: "/sys/fs/cgroup/unified/tsrun/c1",
      selfTasks: ["/sys/fs/cgroup/systemd/tsrun/c1/tasks", "/sys/fs/cgroup/cpu,cpuacct/tsrun/c1/tasks", "/sys/fs/cgroup/memory/tsrun/c1/m/tasks"],
      parentJoins: [],
    });
    expect(new CgroupSet("/tsrun/c1", unified).joinPlan(false, parseSubCgroups(["/s"])).cloneInto).toBe("/sys/fs/cgroup/tsrun/c1/s");
    // Without sub-cgroups it is the plan create and exec had before.
    expect(set.joinPlan(false).cloneInto).toBe("/sys/fs/cgroup/unified/tsrun/c1");
  });
});
