import { UsageError } from "../errors.js";
import type { LogFormat } from "./log.js";
import { type RootlessFlag, parseRootlessFlag } from "../security/rootless.js";

/** runc's global flags, given before the verb. */
export interface GlobalFlags {
  root?: string;
  log?: string;
  logFormat: LogFormat;
  debug: boolean;
  systemdCgroup: boolean;
  /** --rootless true|false|auto (runc's; default auto: see src/security/rootless.ts). */
  rootless: RootlessFlag;
  /** --criu PATH: the criu binary checkpoint and restore run (runc's; default: criu from PATH). */
  criu?: string;
}

const WITH_VALUE = new Set(["--root", "--log", "--log-format", "--criu", "--rootless"]);
const BOOLEAN = new Set(["--debug", "--systemd-cgroup"]);

/**
 * Split argv into global flags and the rest (verb and its arguments). A mistake does not stop the
 * scan: it is returned beside everything read, so that the error still reaches a --log file given
 * after it (a manager reads its failures there). Pure.
 */
export function scanGlobals(argv: readonly string[]): { globals: GlobalFlags; rest: string[]; error?: UsageError } {
  const g: GlobalFlags = { logFormat: "text", debug: false, systemdCgroup: false, rootless: "auto" };
  let error: UsageError | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--") || arg === "--help" || arg === "--version") break;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN.has(name)) {
      const v = eq > 0 ? arg.slice(eq + 1) : "true";
      if (name === "--debug") g.debug = v !== "false";
      else g.systemdCgroup = v !== "false";
      continue;
    }
    if (!WITH_VALUE.has(name)) {
      error ??= new UsageError(`unknown global flag ${name} (see tsrun --help)`);
      continue;
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) {
        error ??= new UsageError(`flag ${name} needs a value`);
        break;
      }
      value = argv[++i];
    }
    if (name === "--root") g.root = value;
    else if (name === "--log") g.log = value;
    else if (name === "--log-format") {
      if (value === "text" || value === "json") g.logFormat = value;
      else error ??= new UsageError(`--log-format must be text or json, not "${value}"`);
    }
    else if (name === "--rootless") {
      try {
        g.rootless = parseRootlessFlag(value);
      } catch (e) {
        error ??= e as UsageError;
      }
    }
    else if (name === "--criu") g.criu = value;
  }
  return { globals: g, rest: argv.slice(i), error };
}

/** scanGlobals, throwing its error. Pure. */
export function parseGlobals(argv: readonly string[]): { globals: GlobalFlags; rest: string[] } {
  const { globals, rest, error } = scanGlobals(argv);
  if (error) throw error;
  return { globals, rest };
}
