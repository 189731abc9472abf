import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../errors.js";
import { criuLogErrors } from "../plan/criu-args.js";
import type { RuntimeContext } from "./context.js";

/** Where criu is looked for when PATH is unset (a manager may call the runtime with an empty environment). */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The criu binary: global --criu, else the first criu on PATH (the default one when PATH is unset). */
export function criuBinary(ctx: RuntimeContext): string {
  if (ctx.criuPath) return ctx.criuPath;
  for (const dir of (process.env.PATH || DEFAULT_PATH).split(":")) {
    const file = join(dir || ".", "criu");
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return "criu";
}

export interface CriuRun {
  /** "checkpoint c1": how the one line of a failure starts. */
  what: string;
  /** Where CRIU writes its log (-o <action>.log): the work dir, else the image dir. */
  logFile: string;
  /** fds at index 3 and up of criu's fd table (--inherit-fd); 0-2 are ours. */
  extraFds?: number[];
}

/**
 * Run criu and wait for it. A failure is one line: what failed, CRIU's last error lines, and its log.
 * criu's own stdio are ours, all three: on restore they are the restored container's (its --inherit-fd
 * keys), and CRIU opens them through /proc/self/fd, which a pipe of node's (a socket) would refuse.
 */
export function runCriu(ctx: RuntimeContext, args: readonly string[], run: CriuRun): void {
  const bin = criuBinary(ctx);
  ctx.debug(`${run.what}: ${bin} ${args.join(" ")}`);
  const extra = run.extraFds ?? [];
  // criu runs ip, iptables-save and tar by name: a caller without PATH (an empty environment) gets the usual one.
  const env = process.env.PATH ? process.env : { ...process.env, PATH: DEFAULT_PATH };
  const r = spawnSync(bin, args, { stdio: ["inherit", "inherit", "inherit", ...extra], env });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new HostError(`${run.what}: CRIU is needed and ${bin} was not found (install Debian's criu, or give its path with --criu)`);
    throw new HostError(`${run.what}: cannot run ${bin}: ${r.error.message}`);
  }
  if (r.status === 0) return;
  let log = "";
  try {
    log = readFileSync(run.logFile, "utf8");
  } catch {
    // criu stopped before it opened its log (a bad flag, an unreadable image dir): its stderr says why
  }
  const errors = criuLogErrors(log);
  // No log: criu stopped before opening it, and said why on our stderr (which is its own: see above).
  const why = errors.length ? errors.join("; ") : `exit status ${r.status ?? r.signal}`;
  throw new HostError(`${run.what}: criu ${args[0]} failed: ${why}${log ? ` (log: ${run.logFile})` : ""}`);
}

/** criu's log of `action` for these flags. */
export function criuLogFile(imagePath: string, workPath: string | undefined, action: string): string {
  return join(workPath ?? imagePath, `${action}.log`);
}
