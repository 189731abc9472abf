import { ContainerStateError, HostError } from "../errors.js";
import { cgroupDriver } from "../cgroups/driver.js";
import type { RuntimeContext } from "./context.js";

/**
 * pause: freeze every process of the container's cgroup (v1 freezer / v2 cgroup.freeze) and return
 * once the kernel reports it frozen. The status `paused` is read back from the kernel, not recorded.
 */
export function pauseContainer(ctx: RuntimeContext, id: string): void {
  const { store } = ctx;
  const unlock = store.lock(id);
  try {
    const rec = store.read(id);
    const status = store.status(rec);
    if (status === "paused") throw new ContainerStateError(id, `cannot pause container ${id}: container already paused`);
    // As runc: a created container can be paused too (its init is frozen before it runs anything).
    if (status !== "running" && status !== "created") throw new ContainerStateError(id, `cannot pause container ${id}: container not running`);
    const cgroup = cgroupDriver(rec.cgroupPath);
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
    const status = store.status(rec);
    if (status !== "paused") throw new ContainerStateError(id, `cannot resume container ${id}: container not paused (it is ${status})`);
    const cgroup = cgroupDriver(rec.cgroupPath);
    if (!cgroup.hasFreezer()) throw new HostError(`cannot resume container ${id}: this host has no freezer cgroup`);
    cgroup.setFrozen(false);
  } finally {
    unlock();
  }
}
