import { runHooks } from "../hooks/run.js";
import type { ContainerRecord } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { ociState } from "./state.js";

/**
 * poststop (runtime.md): after the container is deleted. A failure only warns (config.md: "the runtime
 * MUST log a warning, but the remaining hooks and lifecycle continue"); later hooks still run.
 */
export function runPoststopHooks(ctx: RuntimeContext, rec: ContainerRecord): void {
  const hooks = rec.hooks?.poststop ?? [];
  const state = ociState(rec, "stopped");
  hooks.forEach((hook, i) => {
    try {
      runHooks("poststop", [hook], state, i);
    } catch (e) {
      ctx.warn((e as Error).message);
    }
  });
}
