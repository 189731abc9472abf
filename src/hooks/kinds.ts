import type { Hook, HookName, Hooks } from "../spec/types.js";

/** Every hook kind, in lifecycle order (runtime.md "Lifecycle"); `features` lists them. */
export const HOOK_KINDS: readonly HookName[] = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

/** The hooks of one kind (none when the config has no such list). */
export function hooksOf(hooks: Hooks | undefined, kind: HookName): readonly Hook[] {
  return hooks?.[kind] ?? [];
}

/** What a hook is called in messages: its JSON path in config.json. */
export function hookName(kind: HookName, index: number): string {
  return `/hooks/${kind}/${index}`;
}

/** The argv a hook is executed with: `args` as given (args[0] is argv[0]), or just its path. */
export function hookArgv(hook: Hook): string[] {
  return hook.args?.length ? hook.args : [hook.path];
}
