import { TsrunError } from "../errors.js";
import { makeContext } from "../lifecycle/context.js";
import { versionText } from "../version.js";
import { parseVerbArgs, verbHelp } from "./args.js";
import { VERBS, findVerb } from "./commands.js";
import { scanGlobals } from "./globals.js";
import { Logger } from "./log.js";
import { stdout } from "./stdio.js";

function globalHelp(): string {
  const w = Math.max(...VERBS.map((v) => v.name.length));
  return [
    "tsrun: a low-level OCI container runtime, command-compatible with runc.",
    "",
    "Usage: tsrun [global flags] <verb> [flags] [arguments]",
    "",
    "Verbs:",
    ...VERBS.map((v) => `  ${v.name.padEnd(w)}   ${v.description}`),
    "",
    "Global flags (before the verb):",
    "  --root DIR               state root (default /run/tsrun; $XDG_RUNTIME_DIR/tsrun when not root)",
    "  --log FILE               append log and error lines to FILE",
    "  --log-format text|json   format of the --log file (default text)",
    "  --debug                  log debug lines",
    "  --systemd-cgroup         use the systemd cgroup driver (needs systemd)",
    "  --rootless true|false|auto  no writable cgroup assumed (default auto: not root, or root in a user namespace)",
    "  --criu PATH              the criu binary of checkpoint and restore (default: criu on PATH)",
    "  --version, --help",
    "",
    "`tsrun <verb> --help` describes a verb.",
    "",
  ].join("\n");
}

/**
 * A failure outside the verb's own promise chain (an exception thrown in an event callback, a promise
 * nobody awaits) would end the process without a word in the --log file: it fails the verb instead.
 */
function strayFailure(): Promise<never> {
  return new Promise((_, reject) => {
    process.once("uncaughtException", reject);
    process.once("unhandledRejection", reject);
  });
}

/** The CLI: global flags first (as runc's), then the verb and its arguments. Returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let logger = new Logger(undefined, "text", false);
  try {
    // The log first, so that every later failure, a mistake in the global flags included, is in it.
    const { globals, rest, error } = scanGlobals(argv);
    logger = new Logger(globals.log, globals.logFormat, globals.debug);
    if (error) throw error;
    const [name, ...args] = rest;
    if (name === undefined || name === "--help" || name === "-h" || (name === "help" && args.length === 0)) {
      stdout.write(globalHelp());
      return 0;
    }
    if (name === "--version" || name === "-v" || name === "version") {
      stdout.write(versionText());
      return 0;
    }
    const wanted = name === "help" ? args[0] : name;
    const verb = findVerb(wanted);
    if (!verb) throw new TsrunError(`unknown verb "${wanted}" (see tsrun --help)`);
    const parsed = parseVerbArgs(verb, name === "help" ? ["--help"] : args);
    if (parsed.help) {
      stdout.write(verbHelp(verb));
      return 0;
    }
    const runtime = makeContext(globals.root, { systemdCgroup: globals.systemdCgroup, rootless: globals.rootless, ...(globals.criu ? { criuPath: globals.criu } : {}), debug: logger.debug, warn: (m) => logger.warn(m) });
    return (await Promise.race([verb.run(parsed, runtime), strayFailure()])) ?? 0;
  } catch (e) {
    logger.error((e as Error).message);
    if (!(e instanceof TsrunError)) logger.debug((e as Error).stack ?? "");
    return e instanceof TsrunError ? e.exitCode : 1;
  }
}
