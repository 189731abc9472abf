import { StateStore } from "../state/store.js";

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
