import { type CgroupHierarchy, hostHierarchies, usesV2Driver } from "./hierarchy.js";
import type { CgroupDriver } from "./driver-api.js";
import { V1Driver } from "./driver-v1.js";
import { V2Driver } from "./driver-v2.js";

export type * from "./driver-api.js";

export interface CgroupDriverOptions {
  /** The host's hierarchies (default: probed once per process from /proc/self/mountinfo). */
  hierarchies?: readonly CgroupHierarchy[];
  /**
   * Rootless cgroups (src/security/rootless.ts): the tree above the container's cgroup may not be the
   * caller's. On cgroup v2 the controllers are then offered by, and enabled from, the delegated
   * directory on the way (delegatedBase in access.ts) instead of the hierarchy root.
   */
  rootless?: boolean;
}

/**
 * The driver for the container's cgroup at `path` on this host: cgroup v2 on a unified host; the v1
 * controllers on a legacy or hybrid one (as runc: a hybrid host's cgroup2 mount has no controllers to
 * limit anything with; it is still made and joined, see V1Driver).
 */
export function cgroupDriver(path: string, opts: CgroupDriverOptions = {}): CgroupDriver {
  const hierarchies = opts.hierarchies ?? hostHierarchies();
  return usesV2Driver(hierarchies) ? new V2Driver(path, hierarchies, opts.rootless ?? false) : new V1Driver(path, hierarchies);
}
