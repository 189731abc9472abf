import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../errors.js";
import { type CgroupHierarchy, hostHierarchies } from "./hierarchy.js";
import { type SubCgroups, subCgroupPaths } from "./sub-cgroup.js";

/** Parent of the default cgroup path /tsrun/<id>. */
export const DEFAULT_PARENT = "/tsrun";

/**
 * The container's cgroup as the cgroupfs drivers (driver-v1.ts, driver-v2.ts) lay it out: the same
 * path in every mounted hierarchy. Creation records which directories it made so that removal takes
 * away exactly those. Verbs use a CgroupDriver, not this.
 */
export class CgroupSet {
  constructor(readonly path: string, readonly hierarchies: CgroupHierarchy[] = hostHierarchies()) {}

  /** A path below the root of the hierarchies (anything else is not a container's cgroup). */
  private isContainerCgroup(): boolean {
    return this.path.replace(/\/+$/, "") !== "";
  }

  dirs(): string[] {
    return this.hierarchies.map((h) => join(h.mountPoint, this.path));
  }

  /** mkdir -p in every hierarchy; returns the top-most directory created in each (for cleanup). */
  create(): string[] {
    const made: string[] = [];
    for (const h of this.hierarchies) {
      const dir = join(h.mountPoint, this.path);
      try {
        const first = mkdirSync(dir, { recursive: true });
        if (first) made.push(first);
        if (h.version === 1 && h.controllers.split(",").includes("cpuset")) inheritCpuset(h.mountPoint, this.path);
      } catch (e) {
        this.removeDirs(made);
        throw new HostError(`cannot create cgroup ${dir}: ${(e as Error).message}`);
      }
    }
    return made;
  }

  /**
   * How the init gets into the cgroup without a cgroup.procs write by the parent, which waits for an
   * RCU grace period (0.3-20 ms measured here) on the global cgroup_threadgroup_rwsem:
   * - the v2 hierarchy: tsrun-init clones the init straight into it (CLONE_INTO_CGROUP);
   * - v1 hierarchies: the init writes "0" to each `tasks` file itself, a single-thread self-move that
   *   the kernel does without that lock. It cannot in a new user namespace (the files belong to host
   *   root), so there the parent writes its pid (`parentJoins`).
   * `subs` (exec --cgroup) puts the process in sub-cgroups of the container's cgroup instead.
   */
  joinPlan(newUser: boolean, subs: SubCgroups = new Map()): { cloneInto: string; selfTasks: string[]; parentJoins: string[] } {
    const below = subCgroupPaths(this.hierarchies, subs);
    const dirs = this.hierarchies.map((h, i) => ({ h, dir: join(h.mountPoint, this.path, below[i]) }));
    const v2 = dirs.find((d) => d.h.version === 2);
    const v1 = dirs.filter((d) => d.h.version === 1).map((d) => d.dir);
    return {
      cloneInto: v2 ? v2.dir : "",
      selfTasks: newUser ? [] : v1.map((d) => join(d, "tasks")),
      parentJoins: newUser ? v1 : [],
    };
  }

  /** Move a process into the cgroup in every hierarchy (or in the given directories). */
  join(pid: number, dirs: readonly string[] = this.dirs()): void {
    for (const dir of dirs) {
      try {
        writeFileSync(join(dir, "cgroup.procs"), String(pid));
      } catch (e) {
        throw new HostError(`cannot move pid ${pid} into cgroup ${dir}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * Remove the container's cgroup (and any sub-cgroups the container made), then the parents that
   * `created` says tsrun made, when they are empty. Missing directories are fine.
   */
  remove(created: readonly string[] = []): void {
    // Never the hierarchy roots: an empty path (a record from a create that died early) would make
    // this walk and rmdir every cgroup of the host.
    if (!this.isContainerCgroup()) return;
    const errors: string[] = [];
    for (const dir of this.dirs()) {
      try {
        removeTree(dir);
      } catch (e) {
        errors.push(`${dir}: ${(e as Error).message}`);
      }
    }
    this.removeDirs(created, true);
    // The default parent /tsrun is shared by containers: whoever leaves it empty removes it.
    if (this.path.startsWith(`${DEFAULT_PARENT}/`)) {
      for (const h of this.hierarchies) {
        try {
          rmdirSync(join(h.mountPoint, DEFAULT_PARENT));
        } catch {
          // another container is still in it, or it is gone already
        }
      }
    }
    if (errors.length) throw new HostError(`cannot remove cgroup: ${errors.join("; ")}`);
  }

  /**
   * rmdir each dir in `tops` and the paths below it that lead to the container's cgroup, deepest first.
   * `leavesGone`: the container's own dirs were just removed (or could not be): start at their parents.
   */
  private removeDirs(tops: readonly string[], leavesGone = false): void {
    for (const dir of this.dirs()) {
      const top = tops.find((t) => dir === t || dir.startsWith(t + "/"));
      if (!top) continue;
      const first = leavesGone ? dir.slice(0, dir.lastIndexOf("/")) : dir;
      for (let d = first; d.length >= top.length; d = d.slice(0, d.lastIndexOf("/"))) {
        try {
          rmdirSync(d);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== "ENOENT") break; // not empty (another container) or busy: stop here
        }
      }
    }
  }
}

/** rmdir a cgroup directory and its sub-cgroups, children first (cgroup dirs hold only control files). */
function removeTree(dir: string): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  for (const ent of entries) if (ent.isDirectory()) removeTree(join(dir, ent.name));
  rmdirSync(dir);
}

/**
 * A new v1 cpuset cgroup starts with empty cpuset.cpus/mems, and no process may join it then (ENOSPC):
 * fill each level from its parent, top down, as the v2 cpuset does by itself.
 */
function inheritCpuset(mountPoint: string, path: string): void {
  let parent = mountPoint;
  for (const part of path.split("/").filter(Boolean)) {
    const dir = join(parent, part);
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (readFileSync(join(dir, file), "utf8").trim() === "") writeFileSync(join(dir, file), readFileSync(join(parent, file), "utf8").trim());
    }
    parent = dir;
  }
}
