/**
 * src/fs/layers.ts: resolving and checking tsrun.layers / tsrun.upperDir, the upper/work dirs, and
 * the OVERLAY records (and where buildPlan puts them).
 */
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, PathError } from "../../src/errors.js";
import { MAX_LAYERS, fileInLayers, persistentWorkDir, planOverlay, hasLowerdirPlus, prepareLayerDirs, removeLayerDirs, resolveLayers } from "../../src/fs/layers.js";
import { MS } from "../../src/fs/mount-flags.js";
import { type PlanSpec, buildPlan } from "../../src/plan/build.js";
import { Op } from "../../src/launch/ops.js";
import { thrown } from "../helpers/plan-bundles.js";
import { describeRecord } from "../../src/plan/describe/records.js";

let dir: string;
let bundle: string;
const state = "/run/tsrun/c1";
const opts = () => ({ bundle, stateDir: state, newMountNs: true });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tsrun-layers-unit-"));
  bundle = join(dir, "bundle");
  for (const l of ["layers/base/etc", "layers/app/etc", "rootfs"]) mkdirSync(join(bundle, l), { recursive: true });
  writeFileSync(join(bundle, "layers/base/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(bundle, "layers/app/etc/passwd"), "root:x:0:0:root:/app-home:/bin/sh\n");
  writeFileSync(join(bundle, "afile"), "");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveLayers", () => {
  test("no layers: undefined", () => {
    expect(resolveLayers(undefined, opts())).toBeUndefined();
    expect(resolveLayers({}, opts())).toBeUndefined();
  });

  test("relative to the bundle or absolute, bottom first; upper and work in the state dir", () => {
    const abs = join(bundle, "layers/app");
    expect(resolveLayers({ layers: ["layers/base", abs] }, opts())).toEqual({
      lowers: [join(bundle, "layers/base"), abs],
      upper: join(state, "upper"),
      work: join(state, "work"),
      persistent: false,
      userxattr: false,
    });
  });

  test("a persistent upperDir gets a sibling work dir", () => {
    const r = resolveLayers({ layers: ["layers/base"], upperDir: "persist/up" }, opts())!;
    expect(r).toMatchObject({ upper: join(bundle, "persist/up"), work: join(bundle, "persist/up.work"), persistent: true });
    expect(persistentWorkDir("/x/up")).toBe("/x/up.work");
  });

  test.each([
    ["a missing layer", { layers: ["layers/base", "layers/nope"] }, "layers/nope: layer /tsrun/layers/1 does not exist"],
    ["a layer that is a file", { layers: ["afile"] }, "afile: layer /tsrun/layers/0 is not a directory"],
    ["an upperDir that is a file", { layers: ["layers/base"], upperDir: "afile" }, "afile: upper dir (/tsrun/upperDir) is not a directory"],
  ])("%s: PathError naming it", (_n, ext, msg) => {
    const e = thrown(() => resolveLayers(ext, opts()));
    expect(e).toBeInstanceOf(PathError);
    expect(e.message).toContain(msg);
  });

  test.each([
    ["a new user namespace that does not map host root (tsrun's uid)", { layers: ["layers/base"] }, { newUserMaps: { uid: [{ hostID: 100000, size: 65536 }], gid: [{ hostID: 0, size: 1 }] } }, "/tsrun/layers"],
    ["a joined mount namespace", { layers: ["layers/base"] }, { newMountNs: false }, "/tsrun/layers"],
    ["too many layers", { layers: Array(MAX_LAYERS + 1).fill("layers/base") }, {}, "/tsrun/layers"],
    ["an upperDir without layers", { upperDir: "up" }, {}, "/tsrun/upperDir"],
  ])("%s: ConfigError naming the field", (_n, ext, o, field) => {
    const e = thrown(() => resolveLayers(ext, { ...opts(), ...o }));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).field).toBe(field);
  });
});

test("prepareLayerDirs makes only what is missing; removeLayerDirs removes only that", () => {
  const up = join(dir, "p/up");
  mkdirSync(up, { recursive: true });
  const setup = { lowers: [], upper: up, work: persistentWorkDir(up), persistent: true };
  expect(prepareLayerDirs(setup)).toEqual([`${up}.work`]);
  removeLayerDirs([`${up}.work`]);
  expect(existsSync(up) && !existsSync(`${up}.work`)).toBe(true);
});

test("planOverlay: the namespace made a slave first, then OVERLAY with the lower dirs top-most first", () => {
  expect(planOverlay({ lowers: ["/l/base", "/l/mid", "/l/top"], upper: "/s/upper", work: "/s/work", persistent: false }, "/b/rootfs", "6.18.0-1-amd64")).toEqual([
    { op: Op.MOUNT, ints: [MS.SLAVE | MS.REC, 0], strs: ["", "/", "", "", ""] },
    { op: Op.OVERLAY, ints: [0, 0], strs: ["/b/rootfs", "/s/upper", "/s/work", "/l/top", "/l/mid", "/l/base"] },
  ]);
  // Inside a new user namespace the overlay keeps its metadata in user.* xattrs.
  expect(planOverlay({ lowers: ["/l/base"], upper: "/s/upper", work: "/s/work", persistent: false, userxattr: true }, "/b/rootfs", "6.8.0")[1].ints).toEqual([1, 0]);
});

test("planOverlay before Linux 6.8: one escaped lowerdir string, at most 255 bytes", () => {
  const setup = { lowers: ["/l/base", "/l/a:b", "/l/c\\d"], upper: "/s/upper", work: "/s/work", persistent: false };
  expect(planOverlay(setup, "/b/rootfs", "6.1.0-56-amd64")[1]).toEqual({ op: Op.OVERLAY, ints: [0, 1], strs: ["/b/rootfs", "/s/upper", "/s/work", "/l/c\\\\d:/l/a\\:b:/l/base"] });
  const many = { ...setup, lowers: Array.from({ length: 30 }, (_, i) => `/layers/number-${i}`) };
  const e = thrown(() => planOverlay(many, "/b/rootfs", "5.15.0"));
  expect(e).toBeInstanceOf(ConfigError);
  expect((e as ConfigError).field).toBe("/tsrun/layers");
  expect(e.message).toMatch(/255 bytes .*Linux >= 6\.8/);
  expect(hasLowerdirPlus("6.7.12")).toBe(false);
  expect(hasLowerdirPlus("7.0.0")).toBe(true);
});

test("a new user namespace that maps host root may use layers, with userxattr", () => {
  const root = { uid: [{ hostID: 0, size: 1 }], gid: [{ hostID: 0, size: 65536 }] };
  expect(resolveLayers({ layers: ["layers/base"] }, { ...opts(), newUserMaps: root, unprivileged: true })).toMatchObject({ userxattr: true });
  expect(resolveLayers({ layers: ["layers/base"] }, opts())).toMatchObject({ userxattr: false });
});

test("fileInLayers: the top-most layer wins", () => {
  const setup = resolveLayers({ layers: ["layers/base", "layers/app"] }, opts())!;
  expect(fileInLayers(setup, "etc/passwd")).toBe(join(bundle, "layers/app/etc/passwd"));
  expect(fileInLayers(setup, "etc/none")).toBeUndefined();
});

test("buildPlan: the overlay goes before the rootfs records, and HOME comes from the layers", () => {
  const repo = fileURLToPath(new URL("../..", import.meta.url));
  const spec = JSON.parse(readFileSync(join(repo, "bundles/busybox/config.json"), "utf8")) as PlanSpec;
  const layers = resolveLayers({ layers: ["layers/base", "layers/app"] }, opts())!;
  const input = {
    spec,
    rootfs: join(bundle, "rootfs"),
    bundle,
    fifoPath: "/run/tsrun/c1/exec.fifo",
    noPivot: false,
    preserveFds: 0,
    foreground: false,
    cgroupMounts: cgroupMountsOf("", []),
    cgroupJoin: { cloneInto: "", selfTasks: [] },
    hostCaps: (1n << 41n) - 1n,
    lastCap: 40,
  };
  const plain = buildPlan(input).records;
  const recs = buildPlan({ ...input, layers }).records;
  const at = recs.findIndex((r) => r.op === Op.OVERLAY);
  expect(recs[at].strs!.slice(3)).toEqual([join(bundle, "layers/app"), join(bundle, "layers/base")]);
  // Exactly two records more than without layers, the first mount record of the rootfs plan right after.
  expect(recs.length).toBe(plain.length + 2);
  const firstPlainMount = plain.findIndex((r) => r.op === Op.MOUNT);
  expect(recs.slice(0, at - 1)).toEqual(plain.slice(0, firstPlainMount));
  expect(recs.slice(at + 1, at + 1 + 3)).toEqual(plain.slice(firstPlainMount, firstPlainMount + 3));
  expect(recs.at(-1)!.strs).toContain("HOME=/app-home");
});

describe("tsrun.idmapLayers: lower layers idmapped with the new user namespace's maps, the overlay made by stage 0", () => {
  const maps = { uid: [{ containerID: 0, hostID: 100000, size: 65536 }], gid: [{ containerID: 0, hostID: 200000, size: 65536 }] };
  const idm = (over: object = {}) => ({ ...opts(), newUserMaps: maps, unprivileged: true, idmap: { maps, hostRoot: true, kernel: "6.18.0", ...over } });
  const ext = { layers: ["layers/base", "layers/app"], idmapLayers: true };

  test("the setup: the maps, the container root's host ids (owner of a new upper), no userxattr, no upper-owner check", () => {
    // Without idmapLayers the same config is refused: host root (the upper's owner) is not mapped.
    expect((thrown(() => resolveLayers({ layers: ext.layers }, idm())) as ConfigError).field).toBe("/tsrun/layers");
    const setup = resolveLayers(ext, idm())!;
    expect(setup.userxattr).toBe(false);
    expect(setup.idmap).toEqual({ ...maps, root: { uid: 100000, gid: 200000 } });
  });

  test.each([
    ["no layers", { idmapLayers: true }, {}, "/tsrun/idmapLayers"],
    ["no new user namespace", ext, { maps: undefined }, "/tsrun/idmapLayers"],
    ["not host root", ext, { hostRoot: false }, "/tsrun/idmapLayers"],
    ["Linux 5.18", ext, { kernel: "5.18.3" }, "/tsrun/idmapLayers"],
    ["container root unmapped", ext, { maps: { uid: [{ containerID: 1, hostID: 100000, size: 10 }], gid: maps.gid } }, "/linux/uidMappings"],
  ])("refused: %s (%s)", (_what, e, over, field) => {
    const err = thrown(() => resolveLayers(e as any, idm(over)));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
  });

  test("planOverlay: the overlay is a bind source made by stage 0 (IDMAP_SOURCE mode 2, lower dirs top-most first) and attached on the rootfs", () => {
    const setup = resolveLayers(ext, idm())!;
    const sources = { paths: [] as string[], idmaps: [] as any[] };
    const recs = planOverlay(setup, "/r", "6.18.0", sources);
    expect(recs.map((r) => r.op)).toEqual([Op.MOUNT, Op.IDMAP_MOUNT]);
    expect(recs[1]).toEqual({ op: Op.IDMAP_MOUNT, ints: [0, 0], strs: ["/r", ""] });
    expect(sources.paths).toEqual(["/r"]);
    expect(sources.idmaps).toEqual([{ op: Op.IDMAP_SOURCE, ints: [0, 2, 0], strs: ["0 100000 65536\n", "0 200000 65536\n", "/tsrun/layers", setup.upper, setup.work, setup.lowers[1], setup.lowers[0]] }]);
    expect(describeRecord(sources.idmaps[0]).action).toBe(`make bind source 0 (/tsrun/layers) an overlay of idmapped layers (uid_map 0 100000 65536, gid_map 0 200000 65536): lower ${setup.lowers[1]}:${setup.lowers[0]}, upper ${setup.upper}, work ${setup.work}`);
    // Before Linux 6.8 the lower dirs go in one "lowerdir" string (joined = 1).
    const old = { paths: [] as string[], idmaps: [] as any[] };
    planOverlay(setup, "/r", "6.1.0", old);
    expect(old.idmaps[0].ints).toEqual([0, 2, 1]);
  });
});
