import { posix } from "node:path";
import { UsageError } from "../errors.js";
import type { CgroupHierarchy } from "./hierarchy.js";

/**
 * `exec --cgroup`: run the process in a sub-cgroup of the container's cgroup, as runc's exec does.
 * Each value is `path` (the same path below the container's cgroup in every hierarchy: the one way on
 * cgroup v2) or `controller[,controller...]:path` (per v1 controller; the others keep the container's
 * cgroup). Keys of the map: a controller name, or "" for every hierarchy.
 */
export type SubCgroups = ReadonlyMap<string, string>;

/** A path below the container's cgroup, relative and normalized ("" for the cgroup itself). Pure. */
function subPath(arg: string, path: string): string {
  // A leading "/" is the container's cgroup, not the hierarchy's root (runc joins it below too).
  const rel = posix.normalize(path.replace(/^\/+/, "") || ".");
  if (rel === ".." || rel.startsWith("../")) throw new UsageError(`--cgroup ${arg}: ${path} is not a sub cgroup path (it must stay below the container's cgroup)`);
  return rel === "." ? "" : rel.replace(/\/+$/, "");
}

/** The --cgroup values -> SubCgroups. Pure. */
export function parseSubCgroups(args: readonly string[]): SubCgroups {
  const out = new Map<string, string>();
  for (const arg of args) {
    const parts = arg.split(":");
    if (parts.length > 2) throw new UsageError(`invalid --cgroup argument: ${arg} (give [controller[,controller...]:]path)`);
    if (parts.length === 1) {
      if (args.length !== 1) throw new UsageError(`invalid --cgroup argument: ${arg} (missing <controller>: prefix)`);
      out.set("", subPath(arg, arg));
      continue;
    }
    const [controllers, path] = parts;
    for (const c of controllers.split(",")) {
      // runc 1.1.5 takes an empty name as "every hierarchy" and a repeated one as its last value;
      // both are almost surely mistakes (later runc refuses them too).
      if (!c) throw new UsageError(`invalid --cgroup argument: ${arg} (empty controller name)`);
      if (out.has(c)) throw new UsageError(`invalid --cgroup argument: ${arg} (controller ${c} given more than once)`);
      out.set(c, subPath(arg, path));
    }
  }
  return out;
}

/**
 * For each hierarchy (same order), the sub-cgroup path the process joins below the container's cgroup
 * ("" for the container's cgroup itself). A controller no v1 hierarchy of this host has is an error
 * (on a v2-only host every controller is: only the path form applies there), and so are two paths
 * for controllers mounted together (cpu,cpuacct), which one cgroup directory cannot honour. Pure.
 */
export function subCgroupPaths(hierarchies: readonly CgroupHierarchy[], subs: SubCgroups): string[] {
  const all = subs.get("");
  const known = new Set(hierarchies.filter((h) => h.version === 1).flatMap((h) => h.controllers.split(",")));
  for (const c of subs.keys()) {
    if (c !== "" && !known.has(c)) {
      throw new UsageError(`--cgroup: unknown controller ${c} (this host's: ${[...known].sort().join(", ") || "none, cgroup v2 only: give a path alone"})`);
    }
  }
  return hierarchies.map((h) => {
    if (all !== undefined) return all;
    if (h.version === 2) return "";
    const asked = h.controllers.split(",").filter((c) => subs.has(c));
    const paths = new Set(asked.map((c) => subs.get(c)!));
    if (paths.size > 1) throw new UsageError(`--cgroup: ${asked.join(" and ")} share one hierarchy (${h.mountPoint}): give them the same path`);
    return [...paths][0] ?? "";
  });
}
