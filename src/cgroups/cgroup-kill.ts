import { closeSync, constants, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { CgroupHierarchy } from "./hierarchy.js";

/**
 * SIGKILL every process of a container's cgroup and its sub-cgroups in one write of "1" to cgroup v2's
 * cgroup.kill (Linux 5.14+): the kernel kills them all, children forked meanwhile included, with no
 * freeze and no pid list (runc does this for SIGKILL, on unified and hybrid hosts: in hybrid the unified
 * hierarchy holds every process, since they are cloned into it). False when that cannot be done (no v2
 * hierarchy, no such directory, a kernel without the file, a threaded cgroup): the caller falls back to
 * signalling the pids one by one. Never the hierarchy root, which holds the host.
 */
export function writeCgroupKill(cgroupPath: string, hierarchies: readonly CgroupHierarchy[]): boolean {
  if (cgroupPath.replace(/\/+$/, "") === "") return false;
  const v2 = hierarchies.find((h) => h.version === 2);
  if (!v2) return false;
  let fd: number;
  try {
    // No O_CREAT: a kernel without the file must say ENOENT, not get a stray file attempt.
    fd = openSync(join(v2.mountPoint, cgroupPath, "cgroup.kill"), constants.O_WRONLY);
  } catch {
    return false;
  }
  try {
    writeSync(fd, "1");
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}
