import { Builtins, Cli } from "clipanion";
import { TsrunError } from "../errors.js";
import { makeContext } from "../lifecycle/context.js";
import type { TsrunContext } from "./base.js";
import { parseGlobals } from "./globals.js";
import { FeaturesCommand, SpecCommand } from "./info.js";
import { Logger } from "./log.js";
import { CreateCommand, DeleteCommand, KillCommand, ListCommand, RunCommand, StartCommand, StateCommand } from "./verbs.js";
import { VERSION } from "../version.js";

const GLOBAL_HELP = `Global flags (before the verb):
  --root DIR               state root (default /run/tsrun)
  --log FILE               append log and error lines to FILE
  --log-format text|json   format of the --log file (default text)
  --debug                  log debug lines
  --systemd-cgroup         use the systemd cgroup driver (needs systemd)
`;

/** The CLI: global flags first (as runc's), then the verb, parsed by clipanion. Returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let logger = new Logger(undefined, "text", false);
  try {
    const { globals, rest } = parseGlobals(argv);
    logger = new Logger(globals.log, globals.logFormat, globals.debug);
    const cli = new Cli<TsrunContext>({ binaryLabel: "tsrun, an OCI container runtime", binaryName: "tsrun", binaryVersion: VERSION });
    for (const c of [CreateCommand, StartCommand, StateCommand, KillCommand, DeleteCommand, RunCommand, ListCommand, SpecCommand, FeaturesCommand]) cli.register(c);
    cli.register(Builtins.HelpCommand);
    cli.register(Builtins.VersionCommand);
    if (rest.length === 0 || rest[0] === "--help" || rest[0] === "-h" || rest[0] === "help") {
      process.stdout.write(cli.usage(null) + "\n" + GLOBAL_HELP);
      return 0;
    }
    if (rest[0] === "--version" || rest[0] === "-v" || rest[0] === "version") {
      process.stdout.write(`tsrun version ${VERSION}\nspec: 1.2.0\n`);
      return 0;
    }
    const runtime = makeContext(globals.root, { systemdCgroup: globals.systemdCgroup, debug: logger.debug });
    return await cli.run(rest, { ...Cli.defaultContext, runtime, logger });
  } catch (e) {
    logger.error((e as Error).message);
    return e instanceof TsrunError ? e.exitCode : 1;
  }
}
