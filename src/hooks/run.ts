import { closeSync, openSync, readSync, unlinkSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { HookError } from "../errors.js";
import type { Hook, HookName } from "../spec/types.js";
import { hookArgv, hookName } from "./kinds.js";
import { childProcess } from "../init/spawn.js";

/** As much of a hook's stderr as its error message carries (tsrun-init keeps the same). */
const STDERR_KEEP = 2048;

/** The text of errno codes a hook's execve gives most often (the rest show their code). */
const EXEC_ERRORS: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  ENOEXEC: "Exec format error",
  ENOTDIR: "Not a directory",
  ELOOP: "Too many levels of symbolic links",
};

/** What a hook's run came to, as spawnSync reports it (only the fields the message needs). */
export interface HookOutcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  errorCode?: string;
  stderr: string;
}

/** The error for a hook that failed, or undefined when it succeeded. Pure: unit-tested with made-up outcomes. */
export function hookFailure(name: string, hook: Hook, o: HookOutcome): string | undefined {
  const detail = oneLine(o.stderr);
  const tail = detail ? `: ${detail}` : "";
  if (o.errorCode === "ETIMEDOUT") return `${name}: ${hook.path} did not finish within ${hook.timeout} s (killed)`;
  if (o.errorCode) return `${name}: cannot execute ${hook.path}: ${EXEC_ERRORS[o.errorCode] ?? o.errorCode}`;
  if (o.signal) return `${name}: ${hook.path} was killed by signal ${osConstants.signals[o.signal] ?? "?"} (${o.signal})${tail}`;
  if (o.status !== 0) return `${name}: ${hook.path} exited with status ${o.status}${tail}`;
  return undefined;
}

function oneLine(text: string): string {
  return text.slice(0, STDERR_KEEP).trim().replace(/[\r\n]+/g, " ");
}

/**
 * Run the hooks of one kind in order, in the runtime namespace (this process's): exactly their argv
 * and env, `state` as JSON on stdin (what `tsrun state` reports, on one line), the timeout enforced
 * with SIGKILL. The first failure throws a HookError naming the hook; later hooks are not run.
 * `firstIndex`: the index in the config's list of hooks[0] (for the name in messages).
 * node:child_process spawnSync: no process library to load, and a hook runs to completion before the
 * operation goes on anyway.
 */
export function runHooks(kind: HookName, hooks: readonly Hook[], state: object, firstIndex = 0): void {
  if (!hooks.length) return;
  const input = JSON.stringify(state);
  hooks.forEach((hook, k) => {
    const i = firstIndex + k;
    const argv = hookArgv(hook);
    // stderr goes to an unlinked file, not a pipe: spawnSync would wait for a pipe's EOF, which a
    // background process the hook started (and left holding its stderr) could delay forever.
    const errFd = scratchFile();
    let stderr: string;
    let r;
    try {
      r = childProcess().spawnSync(hook.path, argv.slice(1), {
        argv0: argv[0],
        env: envObject(hook.env ?? []),
        input,
        stdio: ["pipe", "ignore", errFd],
        timeout: hook.timeout ? hook.timeout * 1000 : undefined,
        killSignal: "SIGKILL",
      });
      const buf = Buffer.alloc(STDERR_KEEP);
      stderr = buf.subarray(0, readSync(errFd, buf, 0, buf.length, 0)).toString("utf8");
    } finally {
      closeSync(errFd);
    }
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
    const failure = hookFailure(hookName(kind, i), hook, {
      status: r.status,
      signal: r.signal,
      // EPIPE: the hook exited without reading all of its stdin, which is its business (as runc).
      errorCode: code === "EPIPE" ? undefined : code,
      stderr,
    });
    if (failure) throw new HookError(failure);
  });
}

/** A new file that only this fd reaches (created exclusively, then unlinked). */
function scratchFile(): number {
  const path = join(tmpdir(), `.tsrun-hook-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = openSync(path, "wx+", 0o600);
  unlinkSync(path);
  return fd;
}

/** A hook's env list (`NAME=value`) as the object spawn takes; an entry without `=` is a name with an empty value. */
export function envObject(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf("=");
    if (eq < 0) out[e] = "";
    else out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}
