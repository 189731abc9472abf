import { HostError } from "../errors.js";
import { CgroupSet } from "./cgroupfs.js";
import type { CgroupMembers } from "./driver-api.js";
import { containerFreezer, isFrozen, setFrozen } from "./freezer.js";
import { type CgroupHierarchy, hostHierarchies } from "./hierarchy.js";
import { containerPids } from "./procs.js";

/**
 * The processes and the freezer of a container's cgroup (the CgroupMembers part of its driver, same
 * answers), without loading the resource, device and stats code: kill, delete, pause/resume, ps and
 * start's cleanup need only this (loading the whole driver cost kill ~2 ms and
 * delete ~3 ms per call, bench --base).
 */
export function cgroupMembers(path: string, hierarchies: readonly CgroupHierarchy[] = hostHierarchies()): CgroupMembers {
  const freezer = containerFreezer(path, hierarchies);
  return {
    path,
    hasFreezer: () => freezer !== null,
    isFrozen: () => isFrozen(freezer),
    setFrozen(frozen: boolean, timeoutMs?: number) {
      if (!freezer) throw new HostError(`cannot ${frozen ? "freeze" : "thaw"} cgroup ${path}: this host has no freezer cgroup`);
      setFrozen(freezer, frozen, timeoutMs);
    },
    pids: () => containerPids(path, hierarchies),
    remove: (created?: readonly string[]) => new CgroupSet(path, [...hierarchies]).remove(created),
  };
}
