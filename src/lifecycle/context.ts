import { containerFreezer, isFrozen } from "../cgroups/freezer.js";
import type { Status } from "../state/status.js";
import { type ContainerRecord, StateStore } from "../state/store.js";

// The verb x status table, loaded with the context for the same reason as liveStatus below.
export { checkVerb } from "../state/verb-rules.js";

/** What every operation needs from the global flags. */
export interface RuntimeContext {
  store: StateStore;
  systemdCgroup: boolean;
  debug: (msg: string) => void;
  /** Something the config asks that this host ignores: one line on stderr (and in the log). */
  warn: (msg: string) => void;
}

export function makeContext(root?: string, opts: Partial<Omit<RuntimeContext, "store">> = {}): RuntimeContext {
  return { store: new StateStore(root), systemdCgroup: opts.systemdCgroup ?? false, debug: opts.debug ?? (() => {}), warn: opts.warn ?? (() => {}) };
}

/**
 * The live status of a container: the store's facts, and whether its cgroup is frozen from the
 * kernel, not from a recorded flag: a pause or resume by anyone (another runtime call, a manager
 * writing freezer.state itself) is what the status shows. Here, with the context: nearly every verb asks
 * it, and code every verb needs loads with the CLI (a chunk of its own cost each small verb ~1 ms).
 */
export function liveStatus(store: StateStore, rec: ContainerRecord): Status {
  return store.status(rec, () => isFrozen(containerFreezer(rec.cgroupPath)));
}
