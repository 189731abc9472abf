// The host's cgroup layout for tests that name their own cgroupsPath: where a controller's files of a
// path are, and the cleanup of such a path in every hierarchy.
import { existsSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostHierarchies, layoutOf } from "../../src/cgroups/hierarchy.js";

export const HIERARCHIES = hostHierarchies();
export const LAYOUT = layoutOf(HIERARCHIES);
export const V2 = LAYOUT === "unified";
/** The cgroup2 mount: the only hierarchy on a unified host, the controller-less one on a hybrid host. */
export const V2_MOUNT = HIERARCHIES.find((h) => h.version === 2)?.mountPoint;

/** The directory of cgroup `path` that holds `controller`'s files on this host (v2 on a unified host). */
export function cgroupDir(controller: string, path: string): string {
  if (V2) return join(V2_MOUNT!, path);
  const h = HIERARCHIES.find((x) => x.version === 1 && x.controllers.split(",").includes(controller));
  if (!h) throw new Error(`no v1 ${controller} hierarchy on this host`);
  return join(h.mountPoint, path);
}

export const readCgroup = (controller: string, path: string, file: string): string => readFileSync(join(cgroupDir(controller, path), file), "utf8").trim();
export const writeCgroup = (controller: string, path: string, file: string, value: string): void => writeFileSync(join(cgroupDir(controller, path), file), value);

/** rmdir `path` and its parents up to its first component, in every hierarchy (missing ones are fine). */
export function removeCgroupPath(path: string): void {
  const parts = path.split("/").filter(Boolean);
  for (const h of HIERARCHIES) {
    for (let n = parts.length; n > 0; n--) {
      const dir = join(h.mountPoint, ...parts.slice(0, n));
      if (existsSync(dir)) rmdirSync(dir);
    }
  }
}
