import { release } from "node:os";
import { ConfigError } from "../errors.js";
import type { IDMapping, Mount } from "../spec/types.js";
import type { ParsedMountOptions } from "./mount-options.js";

/**
 * Idmapped bind mounts (runtime-spec 1.1+ mount `uidMappings`/`gidMappings`, the `idmap` and `ridmap`
 * options), decided as runc >= 1.2 decides them:
 * - only a bind mount can be idmapped;
 * - mappings on the mount come as a pair (uid and gid), used as given; a mount's `containerID` is the id
 *   on the filesystem, `hostID` the id the container's processes see it as (from the host's side);
 * - `idmap`/`ridmap` with no mappings on the mount take the container's own user namespace mappings, so
 *   the container needs a new user namespace then;
 * - `ridmap` idmaps every mount of the (rbind) tree, `idmap` and plain mappings only its top mount;
 * - tsrun must be host root: the kernel idmaps a mount only for CAP_SYS_ADMIN over the filesystem's
 *   superblock (runc refuses rootless too).
 * One difference: a user namespace joined by path is refused (runc uses it as the mapping). tsrun-init
 * enters it before the container's mount namespace exists, and from inside it cannot idmap host mounts.
 */
export interface IdmappedBind {
  /** The clone takes the whole tree (rbind). */
  cloneRecursive: boolean;
  /** Every mount of the clone is idmapped (ridmap). */
  idmapRecursive: boolean;
  uid: IDMapping[];
  gid: IDMapping[];
}

export interface IdmapContext {
  /** The container's user namespace: new (with its maps), joined by path, or none of its own. */
  userNs: { uid: readonly IDMapping[]; gid: readonly IDMapping[] } | "joined" | undefined;
  /** tsrun is host root in the initial user namespace. */
  hostRoot: boolean;
}

type IdmapMount = Pick<Mount, "uidMappings" | "gidMappings" | "destination">;

function kernelAtLeast(rel: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = rel.split(".").map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}

/** Whether the kernel (os.release() form) has mount_setattr(2), Linux >= 5.12: idmapped mounts at all. */
export function kernelCanIdmap(rel = release()): boolean {
  return kernelAtLeast(rel, 5, 12);
}

/** Whether overlayfs takes idmapped lower layers: Linux >= 5.19. */
export function kernelCanIdmapLayers(rel = release()): boolean {
  return kernelAtLeast(rel, 5, 19);
}

/** The host id a mapping gives container id `id`, or undefined. Pure. */
export function hostIdOf(m: readonly IDMapping[], id: number): number | undefined {
  const e = m.find((r) => id >= r.containerID && id < r.containerID + r.size);
  return e && e.hostID + (id - e.containerID);
}

/** Whether a config mount asks to be idmapped (mappings, or the idmap/ridmap option). Pure. */
export function wantsIdmap(m: Pick<Mount, "uidMappings" | "gidMappings" | "options">): boolean {
  return (m.uidMappings?.length ?? 0) > 0 || (m.gidMappings?.length ?? 0) > 0 || (m.options ?? []).some((o) => o === "idmap" || o === "ridmap");
}

/** The field of a mount's idmap request: its uidMappings, gidMappings, or its idmap/ridmap option. Pure. */
export function idmapField(m: Pick<Mount, "uidMappings" | "gidMappings" | "options">, field: string): string {
  if (m.uidMappings?.length) return `${field}/uidMappings`;
  if (m.gidMappings?.length) return `${field}/gidMappings`;
  const options = m.options ?? [];
  let last = -1;
  options.forEach((o, i) => (last = o === "idmap" || o === "ridmap" ? i : last));
  return `${field}/options/${last}`;
}

/**
 * The idmapping of mount `field` (`/mounts/N`), or undefined when it asks none. Throws a ConfigError naming
 * the field for a config runc refuses too (or that tsrun cannot honour). Pure.
 */
export function planIdmappedBind(m: IdmapMount, field: string, opts: ParsedMountOptions, isBind: boolean, ctx: IdmapContext): IdmappedBind | undefined {
  const uid = m.uidMappings ?? [];
  const gid = m.gidMappings ?? [];
  if (!uid.length && !gid.length && !opts.idmap) return undefined;
  // The field a refusal names: the mappings when the mount has them, else the option.
  const where = uid.length ? `${field}/uidMappings` : gid.length ? `${field}/gidMappings` : `${field}/options/${opts.idmap!.index}`;
  if (!isBind) throw new ConfigError(where, `only a bind mount can be idmapped (${m.destination} is not one: add the "bind" or "rbind" option)`);
  if (uid.length && !gid.length) throw new ConfigError(`${field}/gidMappings`, "an idmapped mount needs gidMappings with its uidMappings");
  if (gid.length && !uid.length) throw new ConfigError(`${field}/uidMappings`, "an idmapped mount needs uidMappings with its gidMappings");
  if (!ctx.hostRoot) throw new ConfigError(where, "idmapped mounts need tsrun to run as host root (the kernel idmaps a mount only for the owner of its filesystem; runc refuses rootless containers too)");
  if (ctx.userNs === "joined") {
    throw new ConfigError(where, "idmapped mounts are not supported with a user namespace joined by path (tsrun enters it before the mounts are made, and from there the host's mounts cannot be idmapped)");
  }
  const recursive = { cloneRecursive: opts.recursive, idmapRecursive: opts.idmap?.recursive ?? false };
  if (uid.length) return { ...recursive, uid: structuredClone(uid), gid: structuredClone(gid) };
  if (!ctx.userNs) {
    throw new ConfigError(where, `"${opts.idmap!.recursive ? "ridmap" : "idmap"}" without uidMappings and gidMappings on the mount uses the container's user namespace mappings, and the container has no user namespace of its own`);
  }
  return { ...recursive, uid: structuredClone([...ctx.userNs.uid]), gid: structuredClone([...ctx.userNs.gid]) };
}

/** A mapping as uid_map/gid_map take it: "containerID hostID size" per line. Pure. */
export function mapText(m: readonly IDMapping[]): string {
  return m.map((e) => `${e.containerID} ${e.hostID} ${e.size}\n`).join("");
}
