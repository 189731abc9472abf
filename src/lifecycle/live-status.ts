import { containerFreezer, isFrozen } from "../cgroups/freezer.js";
import type { Status } from "../state/status.js";
import type { ContainerRecord, StateStore } from "../state/store.js";

/**
 * The live status of a container: the store's facts, and whether its cgroup is frozen from the
 * kernel, not from a recorded flag: a pause or resume by anyone (another runtime call, a manager
 * writing freezer.state itself) is what the status shows.
 */
export function liveStatus(store: StateStore, rec: ContainerRecord): Status {
  return store.status(rec, () => isFrozen(containerFreezer(rec.cgroupPath)));
}
