/**
 * `tsrun.layers` / `tsrun.upperDir`: the container's root as an overlay of read-only layer
 * directories with a writable upper dir.
 *
 * Three parts, used by create in this order:
 *  - resolveLayers: every path resolved and checked before anything is created, so a bad layer is
 *    a PathError/ConfigError with nothing to undo;
 *  - prepareLayerDirs: the upper and work dirs (in the state dir, or the persistent ones);
 *  - planOverlay (pure): the plan records, run by tsrun-init in the container's mount namespace.
 *
 * The overlay is mounted inside the container's own mount namespace, not on the host: no host mount
 * exists that a crashed tsrun could leave behind, and `delete` only has directories to remove.
 */
import { chownSync, existsSync, mkdirSync, realpathSync, statSync } from "node:fs";
import { release } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, PathError } from "../errors.js";
import { Op, type PlanRecord } from "../launch/ops.js";
import type { TsrunExtension } from "../spec/types.js";
import type { IDMapping } from "../spec/types.js";
import { hostIdOf, kernelCanIdmapLayers, mapText } from "./idmapped-mounts.js";
import { MS } from "./mount-flags.js";
import { removeTree } from "./remove-tree.js";

/**
 * overlayfs stacks at most this many lower layers (OVL_MAX_STACK in fs/overlayfs). Checked here so
 * the error names the limit and the field instead of the kernel's EINVAL.
 */
export const MAX_LAYERS = 500;

export interface LayerSetup {
  /** Read-only layer directories, absolute real paths, bottom first (the config's order). */
  lowers: string[];
  /** Writable upper and work dirs (absolute; same filesystem, as overlayfs requires). */
  upper: string;
  work: string;
  /** The upper came from `tsrun.upperDir`: it (and its work dir) outlive the container. */
  persistent: boolean;
  /** Mounted by a root that is not host root in the initial user namespace (LayerOptions.unprivileged):
   *  overlayfs keeps its metadata in user.* xattrs ("userxattr"). */
  userxattr?: boolean;
  /** tsrun.idmapLayers: the lower layers idmapped with these maps, the overlay made by stage 0 as host root;
   *  an upper made now belongs to `root` (the host ids of the container's root). */
  idmap?: { uid: IDMapping[]; gid: IDMapping[]; root: { uid: number; gid: number } };
}

/** Work dir of a persistent upper: a sibling, so it is on the same filesystem (overlayfs requires it). */
export function persistentWorkDir(upper: string): string {
  return `${upper}.work`;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

/** Host ids of a uid or gid map (the config's IdMapping). */
export interface HostIdRange {
  hostID: number;
  size: number;
}

export interface LayerOptions {
  bundle: string;
  stateDir: string;
  newMountNs: boolean;
  /** A new user namespace's maps (absent: none): the owner of the upper and work dirs must be mapped in it. */
  newUserMaps?: { uid: readonly HostIdRange[]; gid: readonly HostIdRange[] };
  /** Who makes the upper and work dirs: tsrun's caller (host root: 0, 0; a rootless user: its euid, egid). */
  owner?: { uid: number; gid: number };
  /** The overlay is mounted by a root that is not host root in the initial user namespace (a user namespace of
   *  the container's own, new or joined, or tsrun rootless): overlayfs then keeps its metadata in user.*
   *  xattrs, since trusted.* needs CAP_SYS_ADMIN in the initial user namespace. */
  unprivileged?: boolean;
  /** For tsrun.idmapLayers: the new user namespace's maps (absent: none), whether tsrun is host root, and the
   *  kernel (os.release() form; the running one when absent). */
  idmap?: { maps?: { uid: readonly IDMapping[]; gid: readonly IDMapping[] }; hostRoot: boolean; kernel?: string };
}

const mapsHost = (ranges: readonly HostIdRange[], id: number) => ranges.some((r) => id >= r.hostID && id < r.hostID + r.size);

/**
 * The layer setup of a config, or undefined when it has no layers. Throws before anything is
 * created: a missing layer or one that is not a directory is a PathError naming it; layers with a
 * new user namespace that does not map the upper's owner, a joined mount namespace, too many layers,
 * or an upperDir without layers are ConfigErrors naming the field. (A missing root.path directory is
 * refused by loadBundle already.)
 */
export function resolveLayers(ext: TsrunExtension | undefined, opts: LayerOptions): LayerSetup | undefined {
  const layers = ext?.layers;
  if (!layers?.length) {
    if (ext?.upperDir !== undefined) throw new ConfigError("/tsrun/upperDir", "an upper dir needs tsrun.layers");
    if (ext?.idmapLayers) throw new ConfigError("/tsrun/idmapLayers", "idmapped layers need tsrun.layers");
    return undefined;
  }
  if (!opts.newMountNs) {
    throw new ConfigError("/tsrun/layers", "overlay layers need a new mount namespace (not one joined by path) in /linux/namespaces");
  }
  if (layers.length > MAX_LAYERS) {
    throw new ConfigError("/tsrun/layers", `${layers.length} layers: overlayfs stacks at most ${MAX_LAYERS}`);
  }
  const lowers = layers.map((l, i) => resolveLayer(opts.bundle, l, `/tsrun/layers/${i}`));
  const idmap = ext!.idmapLayers ? planIdmapLayers(opts) : undefined;
  // Idmapped layers: the overlay is made by host root, who owns its metadata (trusted.* xattrs).
  const userxattr = idmap ? false : (opts.unprivileged ?? false);
  const owner = opts.owner ?? { uid: 0, gid: 0 };
  const check = idmap ? () => {} : checkOwnerMapped;

  if (ext!.upperDir === undefined) {
    const upper = join(opts.stateDir, "upper");
    check(opts, upper, owner, true);
    return { lowers, upper, work: join(opts.stateDir, "work"), persistent: false, userxattr, ...(idmap ? { idmap } : {}) };
  }
  const upper = isAbsolute(ext!.upperDir) ? resolve(ext!.upperDir) : resolve(opts.bundle, ext!.upperDir);
  const work = persistentWorkDir(upper);
  for (const [dir, what] of [[upper, "upper dir (/tsrun/upperDir)"], [work, "work dir of /tsrun/upperDir"]] as const) {
    let st: { isDirectory(): boolean; uid: number; gid: number };
    try {
      st = statSync(dir);
    } catch (e) {
      if (errno(e) !== "ENOENT") throw new PathError(dir, `cannot use ${what}: ${(e as Error).message}`);
      check(opts, dir, owner, true); // made by prepareLayerDirs
      continue;
    }
    if (!st.isDirectory()) throw new PathError(dir, `${what} is not a directory`);
    check(opts, dir, st, false);
  }
  return { lowers, upper, work, persistent: true, userxattr, ...(idmap ? { idmap } : {}) };
}

/**
 * tsrun.idmapLayers: the maps of the container's new user namespace, for its lower layers. Refused (by
 * field) without one, without host root (the kernel idmaps only for the superblock's owner), on a kernel
 * whose overlayfs takes no idmapped layers (< 5.19), and when the container's root (id 0) is not mapped
 * (it gets the overlay's root directory).
 */
function planIdmapLayers(opts: LayerOptions): NonNullable<LayerSetup["idmap"]> {
  const F = "/tsrun/idmapLayers";
  const ctx = opts.idmap;
  const kernel = ctx?.kernel ?? release();
  if (!ctx?.maps) throw new ConfigError(F, 'idmapped layers take the mappings of a new user namespace: add {"type": "user"} to /linux/namespaces with uidMappings and gidMappings');
  if (!ctx.hostRoot) throw new ConfigError(F, "idmapped layers need tsrun to run as host root (the kernel idmaps a mount only for the owner of its filesystem)");
  if (!kernelCanIdmapLayers(kernel)) throw new ConfigError(F, `overlayfs takes idmapped layers from Linux 5.19; this kernel is ${kernel}`);
  const uid = hostIdOf(ctx.maps.uid, 0);
  const gid = hostIdOf(ctx.maps.gid, 0);
  if (uid === undefined || gid === undefined) {
    throw new ConfigError(uid === undefined ? "/linux/uidMappings" : "/linux/gidMappings", "idmapped layers give the overlay's root to the container's root: map container id 0");
  }
  return { uid: structuredClone([...ctx.maps.uid]), gid: structuredClone([...ctx.maps.gid]), root: { uid, gid } };
}

/**
 * With a new user namespace the overlay is mounted inside it, by its root: overlayfs makes its work files in
 * the work dir and copies up into the upper dir with that root's credentials, which the kernel lets it do only
 * on files whose owner and group it maps (else EOVERFLOW/EACCES on the first write). So the owner of the upper
 * and work dirs (the caller, who makes them) must be mapped. Files of the layers owned by unmapped ids show as
 * nobody inside, as in runc and podman.
 */
function checkOwnerMapped(opts: LayerOptions, dir: string, owner: { uid: number; gid: number }, made: boolean): void {
  const maps = opts.newUserMaps;
  if (!maps) return;
  const uid = mapsHost(maps.uid, owner.uid);
  if (uid && mapsHost(maps.gid, owner.gid)) return;
  const [what, id, field] = uid ? ["gid", owner.gid, "/linux/gidMappings"] : ["uid", owner.uid, "/linux/uidMappings"];
  const whose = made ? `will be made by tsrun's caller, uid ${owner.uid} gid ${owner.gid}` : `belongs to uid ${owner.uid} gid ${owner.gid}`;
  throw new ConfigError(
    "/tsrun/layers",
    `the overlay is mounted in the new user namespace, which must map the owner of its upper and work dirs: ${dir} ${whose}, and host ${what} ${id} is not mapped in ${field}`,
  );
}

function resolveLayer(bundle: string, given: string, field: string): string {
  const abs = isAbsolute(given) ? given : join(bundle, given);
  let real: string;
  try {
    real = realpathSync(abs);
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") throw new PathError(abs, `layer ${field} does not exist`);
    throw new PathError(abs, `cannot open layer ${field}: ${(e as Error).message}`);
  }
  if (!statSync(real).isDirectory()) throw new PathError(abs, `layer ${field} is not a directory`);
  return real;
}

/**
 * Make the upper and work dirs. The upper dir becomes the mode of the container's `/`, hence 0755.
 * Returns the dirs it made, for create's undo (a persistent dir that existed is never removed).
 */
export function prepareLayerDirs(setup: LayerSetup): string[] {
  const made: string[] = [];
  for (const [dir, mode] of [[setup.upper, 0o755], [setup.work, 0o700]] as const) {
    if (existsSync(dir)) continue;
    try {
      mkdirSync(dir, { recursive: true, mode });
      // Idmapped layers: the upper is the container's "/", its root's own (the work dir stays the mounter's).
      if (setup.idmap && dir === setup.upper) chownSync(dir, setup.idmap.root.uid, setup.idmap.root.gid);
    } catch (e) {
      removeLayerDirs(made);
      throw new PathError(dir, `cannot create the overlay's ${dir === setup.upper ? "upper" : "work"} dir: ${(e as Error).message}`);
    }
    made.push(dir);
  }
  return made;
}

/** Undo of prepareLayerDirs after a failed create: only what that create made (the overlay may have made
 *  its mode-0 work/work: removeTree). */
export function removeLayerDirs(made: readonly string[]): void {
  for (const dir of made) removeTree(dir);
}

/**
 * The records that mount the overlay on `rootfs`, to run in the container's new mount namespace
 * before the rest of the rootfs plan. The namespace is first made a recursive slave: it was copied
 * from the host's, where `rootfs` may sit on a shared mount, and a mount there would propagate back
 * to the host (the very leak mounting inside the container avoids). The rootfs plan sets the
 * configured propagation afterwards, as without layers.
 */
export function planOverlay(setup: LayerSetup, rootfs: string, kernel = release(), sources?: { paths: string[]; idmaps: PlanRecord[] }): PlanRecord[] {
  const topFirst = [...setup.lowers].reverse();
  const slave: PlanRecord = { op: Op.MOUNT, ints: [MS.SLAVE | MS.REC, 0], strs: ["", "/", "", "", ""] };
  if (setup.idmap) {
    // Stage 0 makes it (IDMAP_SOURCE mode 2) and sends it as a bind source; the child attaches it.
    if (!sources) throw new ConfigError("/tsrun/idmapLayers", "idmapped layers are not available for this container");
    const index = sources.paths.push(rootfs) - 1;
    const joined = hasLowerdirPlus(kernel) ? 0 : 1;
    sources.idmaps.push({ op: Op.IDMAP_SOURCE, ints: [index, 2, joined], strs: [mapText(setup.idmap.uid), mapText(setup.idmap.gid), "/tsrun/layers", setup.upper, setup.work, ...topFirst] });
    return [slave, { op: Op.IDMAP_MOUNT, ints: [0, index], strs: [rootfs, ""] }];
  }
  let lowers = topFirst;
  let joined = 0;
  if (!hasLowerdirPlus(kernel)) {
    // One "lowerdir" value: ':' between layers, ':' and '\' inside a path escaped (overlayfs syntax);
    // fsconfig copies at most 255 bytes of it.
    lowers = [topFirst.map((d) => d.replace(/[:\\]/g, (c) => `\\${c}`)).join(":")];
    joined = 1;
    if (Buffer.byteLength(lowers[0]) > 255) {
      throw new ConfigError("/tsrun/layers", `on Linux ${kernel} the layer paths must fit in 255 bytes (${Buffer.byteLength(lowers[0])} here); Linux >= 6.8 takes any number of layers`);
    }
  }
  return [
    slave,
    { op: Op.OVERLAY, ints: [setup.userxattr ? 1 : 0, joined], strs: [rootfs, setup.upper, setup.work, ...lowers] },
  ];
}

/** fsconfig "lowerdir+" (one layer per call) is in Linux 6.8 and later. */
export function hasLowerdirPlus(kernel: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernel);
  return !m || Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 8);
}

/**
 * Host path of a file as the container will see it at `rel` (e.g. "etc/passwd"), looked up top-most
 * layer first (upper, then the layers). Whiteouts and opaque dirs are not interpreted: this serves
 * best-effort reads such as HOME from /etc/passwd.
 */
export function fileInLayers(setup: LayerSetup, rel: string): string | undefined {
  for (const dir of [setup.upper, ...[...setup.lowers].reverse()]) {
    const p = join(dir, rel);
    if (existsSync(p)) return p;
  }
  return undefined;
}
