// linux.intelRdt (runtime-spec 1.3): the pure resctrl plan (which group, made or pre-existing, what is
// written where, the monitoring group, what delete removes), and the refusal naming the field where
// resctrl is not mounted (this machine) or where tsrun would have to write it (not done yet).
import { planIntelRdt, resctrlMount } from "../../src/cgroups/intel-rdt.js";
import { refuseIntelRdt } from "../../src/plan/unsupported.js";
import { fieldOf } from "../helpers/config-error.js";

const R = "/sys/fs/resctrl";
const F = "/linux/intelRdt";

describe("planIntelRdt", () => {
  test("no closID: a group named after the container, made, with the schemata, removed on delete", () => {
    expect(planIntelRdt({ l3CacheSchema: "L3:0=ffff0;1=3ff" }, "c1", R)).toEqual({
      group: `${R}/c1`,
      groupIs: "make",
      writes: [{ file: `${R}/c1/schemata`, value: "L3:0=ffff0;1=3ff\n" }, { file: `${R}/c1/tasks`, value: "pid" }],
      remove: [`${R}/c1`],
    });
  });

  test("closID with a schema: that group, made if needed; l3 (its MB: lines dropped for memBwSchema), MB, schemata lines", () => {
    const p = planIntelRdt({ closID: "gold", l3CacheSchema: "L3:0=f\nMB:0=20", memBwSchema: "MB:0=70", schemata: ["L2:0=3"] }, "c1", R);
    expect(p.group).toBe(`${R}/gold`);
    expect(p.groupIs).toBe("make");
    expect(p.writes[0]).toEqual({ file: `${R}/gold/schemata`, value: "L3:0=f\nMB:0=70\nL2:0=3\n" });
    // Without memBwSchema the MB: line of l3CacheSchema stays.
    expect(planIntelRdt({ l3CacheSchema: "L3:0=f\nMB:0=20" }, "c1", R).writes[0].value).toBe("L3:0=f\nMB:0=20\n");
  });

  test("closID with no schema: a pre-configured group that must exist, nothing written but the pid, never removed", () => {
    expect(planIntelRdt({ closID: "gold" }, "c1", R)).toEqual({
      group: `${R}/gold`, groupIs: "exists", writes: [{ file: `${R}/gold/tasks`, value: "pid" }], remove: [],
    });
  });

  test('closID "/" is the default CLOS: the resctrl root, nothing made or removed; no schema may change it', () => {
    expect(planIntelRdt({ closID: "/" }, "c1", R)).toEqual({ group: R, groupIs: "exists", writes: [{ file: `${R}/tasks`, value: "pid" }], remove: [] });
    expect(fieldOf(() => planIntelRdt({ closID: "/", schemata: ["L3:0=f"] }, "c1", R))).toBe(`${F}/closID`);
  });

  test("enableMonitoring (and the older enableCMT/enableMBM): mon_groups/<id>, the pid goes there, removed first", () => {
    const p = planIntelRdt({ closID: "/", enableMonitoring: true }, "c1", R);
    expect(p.monGroup).toBe(`${R}/mon_groups/c1`);
    expect(p.writes).toEqual([{ file: `${R}/mon_groups/c1/tasks`, value: "pid" }]);
    expect(p.remove).toEqual([`${R}/mon_groups/c1`]);
    const q = planIntelRdt({ schemata: ["L3:0=f"], enableMBM: true }, "c1", R);
    expect(q.remove).toEqual([`${R}/c1/mon_groups/c1`, `${R}/c1`]);
  });

  test("a closID that is not a group name is refused", () => {
    for (const closID of ["a/b", ".", ".."]) expect(fieldOf(() => planIntelRdt({ closID }, "c1", R))).toBe(`${F}/closID`);
  });

  test("resctrl not mounted: refused naming /linux/intelRdt", () => {
    expect(fieldOf(() => planIntelRdt({ closID: "gold" }, "c1", undefined))).toBe(F);
    expect(() => planIntelRdt({}, "c1", undefined)).toThrow(/none is mounted \(\/sys\/fs\/resctrl\)/);
  });

  test("create refuses it in both cases, saying which", () => {
    expect(() => refuseIntelRdt({ closID: "gold" }, "c1", undefined)).toThrow(/resctrl filesystem, and none is mounted/);
    expect(() => refuseIntelRdt({ closID: "gold" }, "c1", R)).toThrow(/does not apply Intel RDT yet \(it would use \/sys\/fs\/resctrl\/gold\)/);
    expect(fieldOf(() => refuseIntelRdt({}, "c1", R))).toBe(F);
  });
});

test("resctrlMount finds the resctrl mount in mountinfo", () => {
  const mi = [
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
    "40 22 0:35 / /sys/fs/resctrl rw,relatime shared:20 - resctrl resctrl rw",
  ].join("\n");
  expect(resctrlMount(mi)).toBe("/sys/fs/resctrl");
  expect(resctrlMount(mi.split("\n")[0])).toBeUndefined();
});
