import { containerFreezer, isFrozen } from "../cgroups/freezer.js";
import type { Status } from "../state/status.js";
import { checkRootOwner, defaultStateRoot } from "../state/root.js";
import { type ContainerRecord, StateStore } from "../state/store.js";
import { type Rootless, type RootlessFlag, inUserNamespace, rootlessMode } from "../security/rootless.js";

// The verb x status table, loaded with the context for the same reason as liveStatus below.
export { checkVerb } from "../state/verb-rules.js";

/** What every operation needs from the global flags. */
export interface RuntimeContext {
  readonly store: StateStore;
  systemdCgroup: boolean;
  debug: (msg: string) => void;
  /** Something the config asks that this host ignores: one line on stderr (and in the log). */
  warn: (msg: string) => void;
  /** Who is calling (src/security/rootless.ts): probed on first use, only the verbs that act need it. */
  readonly rootless: Rootless;
  /** The criu binary of checkpoint and restore (global --criu; default: criu from PATH). */
  criuPath?: string;
}

export interface ContextOptions extends Partial<Omit<RuntimeContext, "store" | "rootless">> {
  /** The global --rootless flag (default auto). */
  rootless?: RootlessFlag;
}

/**
 * The context of one call. Without `root`: /run/tsrun for root, $XDG_RUNTIME_DIR/tsrun for any other
 * user (a UsageError when that is unset). A root that another user owns is refused for a non-root caller.
 */
export function makeContext(root?: string, opts: ContextOptions = {}): RuntimeContext {
  let store: StateStore | undefined;
  let rootless: Rootless | undefined;
  const flag = opts.rootless ?? "auto";
  return {
    // Made on first use: `spec` and `features` need no state root, and a user without one can run them.
    get store() {
      if (!store) {
        const euid = process.geteuid?.() ?? 0;
        const xdg = process.env.XDG_RUNTIME_DIR;
        // Only root with an XDG_RUNTIME_DIR needs to know whether it is in a user namespace.
        const inUserNs = root === undefined && euid === 0 && !!xdg && inUserNamespace();
        const s = new StateStore(root ?? defaultStateRoot(euid, xdg, inUserNs, process.env.USER));
        checkRootOwner(s.root, euid);
        store = s;
      }
      return store;
    },
    systemdCgroup: opts.systemdCgroup ?? false,
    ...(opts.criuPath ? { criuPath: opts.criuPath } : {}),
    debug: opts.debug ?? (() => {}),
    warn: opts.warn ?? (() => {}),
    get rootless() {
      return (rootless ??= rootlessMode(flag));
    },
  };
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
