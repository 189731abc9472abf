import type { Hook, HookName } from "../spec/types.js";
import { Op, type PlanRecord } from "../launch/ops.js";
import { hookArgv, hookName } from "./kinds.js";

/** Sync data slots that carry the state JSON a hook run by tsrun-init reads on stdin (src/launch/sync.ts). */
export { SLOT_STATE_CREATED, SLOT_STATE_CREATING } from "../launch/sync.js";

/**
 * HOOK records for hooks that tsrun-init runs itself (createContainer, startContainer): each gets the
 * text of sync data slot `slot` on stdin, which the parent sends at the setup sync point.
 */
export function planHooks(kind: HookName, hooks: readonly Hook[], slot: number): PlanRecord[] {
  return hooks.map((h, i) => {
    const argv = hookArgv(h);
    return { op: Op.HOOK, ints: [h.timeout ?? 0, argv.length, slot], strs: [hookName(kind, i), h.path, ...argv, ...(h.env ?? [])] };
  });
}
