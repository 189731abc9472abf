import type { Hook } from "../../spec/types.js";
import { hookArgv } from "../../hooks/kinds.js";

/** One OCI hook run by tsrun as an action's text and fields. Pure. */
export function hookAction(name: string, hook: Hook): { action: string; fields: Record<string, unknown> } {
  const args = hookArgv(hook);
  const timeout = hook.timeout ? `, timeout ${hook.timeout} s` : "";
  return { action: `run hook ${name}: ${hook.path} ${JSON.stringify(args)}${timeout}`, fields: { hook: name, path: hook.path, args, env: hook.env ?? [], timeout: hook.timeout } };
}
