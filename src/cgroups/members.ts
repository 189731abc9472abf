import { ContainerStateError, HostError } from "../errors.js";
import { CgroupSet } from "./cgroupfs.js";
import type { CgroupMembers } from "./driver-api.js";
import { containerFreezer, isFrozen, setFrozen } from "./freezer.js";
import { type CgroupHierarchy, hostHierarchies } from "./hierarchy.js";
import { containerPids } from "./procs.js";
import { writeCgroupKill } from "./cgroup-kill.js";
import type { SystemdUnit } from "./systemd/unit-name.js";

/**
 * The processes and the freezer of a container's cgroup (the CgroupMembers part of its driver, same
 * answers), without loading the resource, device and stats code: kill, delete, pause/resume, ps and
 * start's cleanup need only this (loading the whole driver cost kill ~2 ms and
 * delete ~3 ms per call, bench --base).
 *
 * `path` "" is a container with no cgroup of its own (rootless, nothing writable, no resources asked:
 * see NO_CGROUP): its processes cannot be listed or frozen, there is nothing to remove. `systemd`: the
 * record's unit (the systemd driver): remove() stops it, which removes the cgroup.
 */
export function cgroupMembers(path: string, hierarchies?: readonly CgroupHierarchy[], systemd?: SystemdUnit): CgroupMembers {
  if (path === NO_CGROUP) return noCgroupMembers;
  const hs = hierarchies ?? hostHierarchies();
  const freezer = containerFreezer(path, hs);
  return {
    path,
    hasFreezer: () => freezer !== null,
    isFrozen: () => isFrozen(freezer),
    setFrozen(frozen: boolean, timeoutMs?: number) {
      if (!freezer) throw new HostError(`cannot ${frozen ? "freeze" : "thaw"} cgroup ${path}: this host has no freezer cgroup`);
      setFrozen(freezer, frozen, timeoutMs);
    },
    pids: () => containerPids(path, hs),
    killAll: () => writeCgroupKill(path, hs),
    remove: systemd
      ? async (created?: readonly string[]) => {
          await (await import("./systemd/session.js")).stopUnit(systemd);
          new CgroupSet(path, [...hs]).remove(created);
        }
      : (created?: readonly string[]) => new CgroupSet(path, [...hs]).remove(created),
  };
}

/** The cgroupPath a container record has when the container has no cgroup of its own. */
export const NO_CGROUP = "";

/**
 * A verb that needs the container's own cgroup (pause, resume, ps, events, update, exec --cgroup) on a
 * container that has none: one line saying why. `action` completes "cannot <action> container <id>".
 */
export function requireOwnCgroup(id: string, cgroupPath: string, action: string): void {
  if (cgroupPath !== NO_CGROUP) return;
  throw new ContainerStateError(
    id,
    `cannot ${action} container ${id}: it has no cgroup of its own (created rootless where no cgroup was writable; ` +
      "a cgroup v2 subtree delegated to the user and named in linux.cgroupsPath gives it one)",
  );
}

/** A container without a cgroup of its own: no members to list, no freezer, nothing to remove. */
const noCgroupMembers: CgroupMembers = {
  path: NO_CGROUP,
  hasFreezer: () => false,
  isFrozen: () => false,
  setFrozen(frozen: boolean) {
    throw new HostError(`cannot ${frozen ? "freeze" : "thaw"}: the container has no cgroup of its own`);
  },
  pids: () => [],
  killAll: () => false,
  remove: () => {},
};
