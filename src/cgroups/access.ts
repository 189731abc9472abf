import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { type CgroupHierarchy, hostHierarchies, usesV2Driver } from "./hierarchy.js";

/**
 * Rootless cgroups: whether the caller can make the container's cgroup and move processes into it, in
 * every hierarchy the driver uses. A host fact the create planner is given (so the plan is testable
 * without root); probeCgroupAccess reads it from the cgroup filesystems.
 */
export type CgroupAccess =
  | { readonly writable: true }
  /** `blocked`: the host path the caller may not write; `why`: what that stops, in a few words. */
  | { readonly writable: false; readonly blocked: string; readonly why: string };

/** The deepest common ancestor of two cgroup paths ("/a/b/c", "/a/d" -> "/a"). Pure. */
export function commonAncestor(a: string, b: string): string {
  const pa = a.split("/").filter(Boolean);
  const pb = b.split("/").filter(Boolean);
  let i = 0;
  while (i < pa.length && i < pb.length && pa[i] === pb[i]) i++;
  return "/" + pa.slice(0, i).join("/");
}

/** The caller's cgroup v2 path from /proc/self/cgroup text (its "0::" line); undefined without one. Pure. */
export function ownCgroupV2(procCgroup: string): string | undefined {
  const line = procCgroup.split("\n").find((l) => l.startsWith("0::"));
  return line ? line.slice(3) || "/" : undefined;
}

/**
 * Where a rootless relative `linux.cgroupsPath` (and the default, the container's id) goes on a cgroup
 * v2 host: below the parent of the caller's own cgroup, as runc's fs2 driver places it. The caller's
 * own cgroup usually has processes (its shell), so no controller can be enabled for a child of it;
 * its parent is what a delegation hands over (systemd's user@.service/app.slice, a consh-style
 * directory with the shell in a leaf of it). Pure.
 */
export function rootlessCgroupBase(ownCgroup: string): string {
  return posix.dirname(posix.normalize(ownCgroup));
}

const exists = (p: string): boolean => statSync(p, { throwIfNoEntry: false }) !== undefined;

function writable(p: string, mode = constants.W_OK): boolean {
  try {
    accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

/**
 * Can this process make the cgroup at `path` and move processes into it, in each hierarchy? Per hierarchy:
 * the container's directory exists and its cgroup.procs is writable, or its deepest existing ancestor is
 * writable and searchable (mkdir; what the caller makes is the caller's). On cgroup v2 the kernel also
 * wants the cgroup.procs of the common ancestor of the mover's cgroup (`ownV2`, this process's: tsrun-init
 * clones the init from it) and of the target writable. The first obstacle is reported. Reads only.
 */
export function probeCgroupAccess(path: string, hierarchies: readonly CgroupHierarchy[], ownV2: string | undefined): CgroupAccess {
  for (const h of hierarchies) {
    const dir = join(h.mountPoint, path);
    if (exists(dir)) {
      const procs = join(dir, "cgroup.procs");
      if (!writable(procs)) return { writable: false, blocked: procs, why: "cannot move processes into it" };
    } else {
      let up = dir;
      while (up.length > h.mountPoint.length && !exists(up)) up = posix.dirname(up);
      if (!writable(up, constants.W_OK | constants.X_OK)) return { writable: false, blocked: up, why: `cannot make ${dir} in it` };
    }
    if (h.version === 2 && ownV2 !== undefined) {
      const procs = join(h.mountPoint, commonAncestor(ownV2, path), "cgroup.procs");
      if (!writable(procs)) return { writable: false, blocked: procs, why: `cannot move processes from ${ownV2} to ${path} (their common ancestor's cgroup.procs)` };
    }
  }
  return { writable: true };
}

/**
 * Rootless, cgroup v2: the highest directory on the way to the container's cgroup whose
 * cgroup.subtree_control the caller may write (the delegated one), as a path inside the hierarchy;
 * controllers are offered from there and enabled from there down. null when there is none. Reads only.
 */
export function delegatedBase(mount: string, path: string): string | null {
  const parts = path.split("/").filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const inner = "/" + parts.slice(0, i).join("/");
    const dir = join(mount, inner);
    if (!exists(dir)) return null;
    if (writable(join(dir, "cgroup.subtree_control"))) return inner;
  }
  return null;
}

/**
 * The rootless cgroup facts of this process for the create planner: the access probe, and on a cgroup
 * v2 (unified) host where relative paths go. Reads /proc/self/cgroup once.
 */
export function rootlessCgroupFacts(hierarchies: readonly CgroupHierarchy[] = hostHierarchies()): {
  cgroupAccess: (path: string) => CgroupAccess;
  rootlessCgroupBase?: string;
} {
  let own: string | undefined;
  try {
    own = ownCgroupV2(readFileSync("/proc/self/cgroup", "utf8"));
  } catch {
    own = undefined;
  }
  return {
    cgroupAccess: (path) => probeCgroupAccess(path, hierarchies, own),
    ...(usesV2Driver(hierarchies) && own !== undefined ? { rootlessCgroupBase: rootlessCgroupBase(own) } : {}),
  };
}
