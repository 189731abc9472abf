import { type CgroupHierarchy, hostHierarchies, usesV2Driver } from "./hierarchy.js";
import type { CgroupDriver } from "./driver-api.js";
import { V1Driver } from "./driver-v1.js";
import { V2Driver } from "./driver-v2.js";
import { SystemdDriver, type SystemdDriverOptions } from "./driver-systemd.js";
import type { SystemdUnit } from "./systemd/unit-name.js";
import { HostError } from "../errors.js";

export type * from "./driver-api.js";
export type { SystemdDriverOptions } from "./driver-systemd.js";

export interface CgroupDriverOptions {
  /** The host's hierarchies (default: probed once per process from /proc/self/mountinfo). */
  hierarchies?: readonly CgroupHierarchy[];
  /**
   * Rootless cgroups (src/security/rootless.ts): the tree above the container's cgroup may not be the
   * caller's. On cgroup v2 the controllers are then offered by, and enabled from, the delegated
   * directory on the way (delegatedBase in access.ts) instead of the hierarchy root.
   */
  rootless?: boolean;
  /** The systemd driver (--systemd-cgroup at create; the record's unit after): cgroup v2 only. */
  systemd?: SystemdDriverOptions;
}

/**
 * The driver for the container's cgroup at `path` on this host: cgroup v2 on a unified host; the v1
 * controllers on a legacy or hybrid one (as runc: a hybrid host's cgroup2 mount has no controllers to
 * limit anything with; it is still made and joined, see V1Driver).
 */
export function cgroupDriver(path: string, opts: CgroupDriverOptions = {}): CgroupDriver {
  const hierarchies = opts.hierarchies ?? hostHierarchies();
  if (opts.systemd) {
    if (!usesV2Driver(hierarchies)) throw new HostError(SYSTEMD_NEEDS_V2);
    return new SystemdDriver(path, hierarchies, opts.systemd);
  }
  return usesV2Driver(hierarchies) ? new V2Driver(path, hierarchies, opts.rootless ?? false) : new V1Driver(path, hierarchies);
}

/** The driver of an existing container's cgroup, as its record has it (the systemd unit, when it has one). */
export function recordedCgroupDriver(rec: { cgroupPath: string; systemd?: SystemdUnit }, opts: Omit<CgroupDriverOptions, "systemd"> = {}): CgroupDriver {
  return cgroupDriver(rec.cgroupPath, { ...opts, ...(rec.systemd ? { systemd: { unit: rec.systemd } } : {}) });
}

/** Hybrid and v1 hosts: runc drives systemd's v1 controllers there; tsrun's systemd driver does not (spec-notes). */
export const SYSTEMD_NEEDS_V2 =
  "--systemd-cgroup: this host's cgroup controllers are on cgroup v1 (a hybrid or legacy layout); tsrun's systemd driver needs the unified cgroup v2 hierarchy: boot with systemd.unified_cgroup_hierarchy=1, or omit --systemd-cgroup";
