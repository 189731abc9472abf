/**
 * Idmapped bind mounts in the plan (src/fs/idmapped-mounts.ts, src/fs/rootfs-plan.ts, src/plan/build.ts):
 * which mounts are idmapped with which mappings, the records (IDMAP_SOURCE and BIND_SOURCES in stage 0
 * before the clone, IDMAP_MOUNT in the child where the bind would be), and the refusals runc >= 1.2 makes,
 * each naming its field.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mapText, planIdmappedBind, wantsIdmap } from "../../src/fs/idmapped-mounts.js";
import { parseMountOptions } from "../../src/fs/mount-options.js";
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";
import { buildPlan, type PlanInput, type PlanSpec } from "../../src/plan/build.js";
import { describeRecord } from "../../src/plan/describe/records.js";
import { fieldOf } from "../helpers/config-error.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8")) as PlanSpec;
const M = (containerID: number, hostID: number, size: number) => ({ containerID, hostID, size });
const USERNS_UID = [M(0, 100000, 65536)];
const USERNS_GID = [M(0, 200000, 65536)];

let dir: string;
let src: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tsrun-idmap-plan-"));
  src = join(dir, "data");
  mkdirSync(src);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function spec(edit: (s: any) => void): PlanSpec { // eslint-disable-line @typescript-eslint/no-explicit-any
  const s = JSON.parse(JSON.stringify(BUSYBOX));
  edit(s);
  return s;
}
const userns = (s: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
  s.linux.namespaces.push({ type: "user" });
  s.linux.uidMappings = USERNS_UID;
  s.linux.gidMappings = USERNS_GID;
};
function plan(s: PlanSpec, extra: Partial<PlanInput> = {}): PlanRecord[] {
  return buildPlan({
    spec: s, rootfs: "/nonexistent/rootfs", bundle: dir, fifoPath: "/run/tsrun/c1/exec.fifo", noPivot: false,
    preserveFds: 0, foreground: false, cgroupMounts: cgroupMountsOf("/tsrun/c1", []), cgroupJoin: { cloneInto: "", selfTasks: [] },
    hostCaps: (1n << 41n) - 1n, lastCap: 40, hostRoot: true, ...extra,
  }).records;
}
const ofOp = (recs: PlanRecord[], op: Op) => recs.filter((r) => r.op === op);
const idx = (recs: PlanRecord[], op: Op) => recs.findIndex((r) => r.op === op);

describe("which mounts are idmapped, with which mappings (planIdmappedBind)", () => {
  const F = "/mounts/5";
  const ctx = { hostRoot: true, userNs: { uid: USERNS_UID, gid: USERNS_GID } } as const;
  const parsed = (options: string[]) => parseMountOptions(options, `${F}/options`, "bind");

  test("a mount with neither mappings nor idmap/ridmap is not idmapped", () => {
    expect(planIdmappedBind({ destination: "/d" }, F, parsed(["rbind"]), true, ctx)).toBeUndefined();
    expect(wantsIdmap({ options: ["rbind", "ro"] })).toBe(false);
    expect(wantsIdmap({ options: ["ridmap"] })).toBe(true);
    expect(wantsIdmap({ uidMappings: [M(0, 1, 1)] })).toBe(true);
  });

  test("mappings on the mount are used as given; only its top mount is idmapped, the clone follows rbind", () => {
    const uid = [M(100, 1100, 3)];
    const gid = [M(200, 1900, 50)];
    expect(planIdmappedBind({ destination: "/d", uidMappings: uid, gidMappings: gid }, F, parsed(["bind"]), true, ctx))
      .toEqual({ cloneRecursive: false, idmapRecursive: false, uid, gid });
    expect(planIdmappedBind({ destination: "/d", uidMappings: uid, gidMappings: gid }, F, parsed(["rbind"]), true, { hostRoot: true, userNs: undefined }))
      .toEqual({ cloneRecursive: true, idmapRecursive: false, uid, gid });
  });

  test("idmap/ridmap without mappings take the container's user namespace mappings; ridmap idmaps the whole tree", () => {
    expect(planIdmappedBind({ destination: "/d" }, F, parsed(["bind", "idmap"]), true, ctx))
      .toEqual({ cloneRecursive: false, idmapRecursive: false, uid: USERNS_UID, gid: USERNS_GID });
    expect(planIdmappedBind({ destination: "/d" }, F, parsed(["rbind", "ridmap"]), true, ctx))
      .toEqual({ cloneRecursive: true, idmapRecursive: true, uid: USERNS_UID, gid: USERNS_GID });
    // Mappings on the mount win over the container's, ridmap still makes it recursive.
    expect(planIdmappedBind({ destination: "/d", uidMappings: [M(0, 5, 1)], gidMappings: [M(0, 6, 1)] }, F, parsed(["rbind", "ridmap"]), true, ctx))
      .toEqual({ cloneRecursive: true, idmapRecursive: true, uid: [M(0, 5, 1)], gid: [M(0, 6, 1)] });
  });

  test("refusals name the field: a non-bind mount, one of the pair missing, idmap without a user namespace, not host root, a joined user namespace", () => {
    const uid = [M(0, 1000, 1)];
    expect(fieldOf(() => planIdmappedBind({ destination: "/d", uidMappings: uid, gidMappings: uid }, F, parseMountOptions([], `${F}/options`, "tmpfs"), false, ctx))).toBe(`${F}/uidMappings`);
    expect(fieldOf(() => planIdmappedBind({ destination: "/d" }, F, parseMountOptions(["nosuid", "idmap"], `${F}/options`, "tmpfs"), false, ctx))).toBe(`${F}/options/1`);
    expect(fieldOf(() => planIdmappedBind({ destination: "/d", uidMappings: uid }, F, parsed(["bind"]), true, ctx))).toBe(`${F}/gidMappings`);
    expect(fieldOf(() => planIdmappedBind({ destination: "/d", gidMappings: uid }, F, parsed(["bind"]), true, ctx))).toBe(`${F}/uidMappings`);
    expect(fieldOf(() => planIdmappedBind({ destination: "/d" }, F, parsed(["bind", "ro", "ridmap"]), true, { hostRoot: true, userNs: undefined }))).toBe(`${F}/options/2`);
    expect(fieldOf(() => planIdmappedBind({ destination: "/d", uidMappings: uid, gidMappings: uid }, F, parsed(["bind"]), true, { hostRoot: false, userNs: undefined }))).toBe(`${F}/uidMappings`);
    expect(fieldOf(() => planIdmappedBind({ destination: "/d" }, F, parsed(["bind", "idmap"]), true, { hostRoot: true, userNs: "joined" }))).toBe(`${F}/options/1`);
  });

  test("mappings as uid_map takes them", () => {
    expect(mapText([M(0, 100000, 65536), M(70000, 5, 1)])).toBe("0 100000 65536\n70000 5 1\n");
  });
});

describe("the records", () => {
  test("an idmapped bind: IDMAP_SOURCE and BIND_SOURCES before CLONE, IDMAP_MOUNT where the bind goes, flags after it", () => {
    const recs = plan(spec((s) => {
      userns(s);
      s.mounts.push({ destination: "/plain", type: "bind", source: src, options: ["rbind"] });
      s.mounts.push({ destination: "/data", type: "bind", source: src, options: ["rbind", "ro", "ridmap"] });
    }));
    const sources = ofOp(recs, Op.BIND_SOURCES);
    expect(sources).toHaveLength(1);
    // A new user namespace as host root: the plain bind's source goes through stage 0 too (index 0).
    expect(sources[0].strs).toEqual([src, src]);
    const i = recs.findIndex((r) => r.op === Op.IDMAP_SOURCE);
    expect(recs[i]).toEqual({ op: Op.IDMAP_SOURCE, ints: [1, 1, 1], strs: ["0 100000 65536\n", "0 200000 65536\n", `/mounts/${BUSYBOX.mounts!.length + 1} (/data)`] });
    expect(i).toBe(idx(recs, Op.BIND_SOURCES) - 1);
    expect(idx(recs, Op.BIND_SOURCES)).toBe(idx(recs, Op.CLONE) - 1);
    const mount = ofOp(recs, Op.IDMAP_MOUNT);
    expect(mount).toEqual([{ op: Op.IDMAP_MOUNT, ints: [1, 1], strs: ["/nonexistent/rootfs/data", "/nonexistent/rootfs"] }]);
    const m = idx(recs, Op.IDMAP_MOUNT);
    expect(m).toBeGreaterThan(idx(recs, Op.CLONE));
    expect(m).toBeLessThan(idx(recs, Op.PIVOT_ROOT));
    // "ro" is the mount's own flag: mount_setattr on the attached mount, right after it.
    expect(recs[m + 1]).toMatchObject({ op: Op.MOUNT_SETATTR, ints: [1, 0, 0, 0], strs: ["/nonexistent/rootfs/data", "/nonexistent/rootfs"] });
    // The idmapped one is not also bound with mount(2).
    expect(ofOp(recs, Op.MOUNT).filter((r) => r.strs![1] === "/nonexistent/rootfs/data")).toHaveLength(0);
  });

  test("without a user namespace: only the idmapped source goes through stage 0; plain binds stay mount(2) of the path", () => {
    const recs = plan(spec((s) => {
      s.mounts.push({ destination: "/plain", type: "bind", source: src, options: ["rbind"] });
      s.mounts.push({ destination: "/data", type: "bind", source: "data", options: ["bind"], uidMappings: [M(0, 1000, 1)], gidMappings: [M(0, 1000, 1)] });
    }));
    expect(ofOp(recs, Op.BIND_SOURCES)).toEqual([{ op: Op.BIND_SOURCES, strs: [src] }]);
    expect(ofOp(recs, Op.IDMAP_SOURCE)[0].ints).toEqual([0, 0, 0]);
    expect(ofOp(recs, Op.IDMAP_MOUNT)[0].ints).toEqual([1, 0]);
    const plain = ofOp(recs, Op.MOUNT).find((r) => r.strs![1] === "/nonexistent/rootfs/plain")!;
    expect(plain.ints).toHaveLength(2);
  });

  test("--dry-run says what the records do", () => {
    const recs = plan(spec((s) => s.mounts.push({ destination: "/data", type: "bind", source: src, options: ["rbind", "ridmap"], uidMappings: [M(0, 7, 1)], gidMappings: [M(0, 8, 1)] })));
    expect(describeRecord(ofOp(recs, Op.IDMAP_SOURCE)[0]).action).toBe(`idmap bind source 0 (/mounts/${BUSYBOX.mounts!.length} (/data)): clone it recursively, idmap it recursively with uid_map 0 7 1 and gid_map 0 8 1`);
    expect(describeRecord(ofOp(recs, Op.IDMAP_MOUNT)[0]).action).toBe("attach idmapped bind source 0 on /nonexistent/rootfs/data (mount point: directory)");
  });

  test("no idmapped mount: no IDMAP record (and no BIND_SOURCES without a user namespace)", () => {
    const recs = plan(spec((s) => s.mounts.push({ destination: "/plain", type: "bind", source: src, options: ["rbind"] })));
    expect(ofOp(recs, Op.IDMAP_SOURCE)).toHaveLength(0);
    expect(ofOp(recs, Op.IDMAP_MOUNT)).toHaveLength(0);
    expect(ofOp(recs, Op.BIND_SOURCES)).toHaveLength(0);
  });

  test("refused in the plan: rootless, a tmpfs with mappings, one of the pair, a joined user namespace", () => {
    const n = BUSYBOX.mounts!.length;
    const idm = { destination: "/data", type: "bind", source: src, options: ["bind"], uidMappings: [M(0, 1000, 1)], gidMappings: [M(0, 1000, 1)] };
    expect(fieldOf(() => plan(spec((s) => { userns(s); s.mounts.push(idm); }), { hostRoot: false }))).toBe(`/mounts/${n}/uidMappings`);
    expect(fieldOf(() => plan(spec((s) => { userns(s); s.mounts.push(idm); }), { rootless: true }))).toBe(`/mounts/${n}/uidMappings`);
    expect(fieldOf(() => plan(spec((s) => s.mounts.push({ destination: "/t", type: "tmpfs", source: "tmpfs", gidMappings: [M(0, 1, 1)] }))))).toBe(`/mounts/${n}/gidMappings`);
    expect(fieldOf(() => plan(spec((s) => s.mounts.push({ ...idm, gidMappings: [] }))))).toBe(`/mounts/${n}/gidMappings`);
    expect(fieldOf(() => plan(spec((s) => s.mounts.push({ destination: "/data", type: "bind", source: src, options: ["rbind", "ridmap"] }))))).toBe(`/mounts/${n}/options/1`);
    expect(fieldOf(() => plan(spec((s) => {
      s.linux.namespaces.push({ type: "user", path: "/proc/1/ns/user" });
      s.mounts.push(idm);
    })))).toBe(`/mounts/${n}/uidMappings`);
  });
});
