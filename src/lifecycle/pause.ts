import { HostError } from "../errors.js";
import { cgroupMembers, requireOwnCgroup } from "../cgroups/members.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";

/**
 * pause: freeze every process of the container's cgroup (v1 freezer / v2 cgroup.freeze) and return
 * once the kernel reports it frozen. The status `paused` is read back from the kernel, not recorded.
 */
export function pauseContainer(ctx: RuntimeContext, id: string): void {
  const { store } = ctx;
  const unlock = store.lock(id);
  try {
    const rec = store.read(id);
    checkVerb("pause", liveStatus(store, rec), id);
    requireOwnCgroup(id, rec.cgroupPath, "pause");
    const cgroup = cgroupMembers(rec.cgroupPath);
    if (!cgroup.hasFreezer()) throw new HostError(`cannot pause container ${id}: this host has no freezer cgroup`);
    cgroup.setFrozen(true);
  } finally {
    unlock();
  }
}

export function resumeContainer(ctx: RuntimeContext, id: string): void {
  const { store } = ctx;
  const unlock = store.lock(id);
  try {
    const rec = store.read(id);
    checkVerb("resume", liveStatus(store, rec), id);
    requireOwnCgroup(id, rec.cgroupPath, "resume");
    const cgroup = cgroupMembers(rec.cgroupPath);
    if (!cgroup.hasFreezer()) throw new HostError(`cannot resume container ${id}: this host has no freezer cgroup`);
    cgroup.setFrozen(false);
  } finally {
    unlock();
  }
}
