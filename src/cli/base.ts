import { type BaseContext, Command } from "clipanion";
import { TsrunError } from "../errors.js";
import type { RuntimeContext } from "../lifecycle/context.js";
import type { Logger } from "./log.js";

export interface TsrunContext extends BaseContext {
  runtime: RuntimeContext;
  logger: Logger;
}

/** Every verb: turns any failure into one clear line on stderr (and the --log file) and exit 1. */
export abstract class TsrunCommand extends Command<TsrunContext> {
  abstract run(): Promise<number | void> | number | void;

  async execute(): Promise<number> {
    try {
      return (await this.run()) ?? 0;
    } catch (e) {
      const err = e as Error;
      this.context.logger.error(err.message);
      if (!(e instanceof TsrunError)) this.context.logger.debug(err.stack ?? "");
      return e instanceof TsrunError ? e.exitCode : 1;
    }
  }
}
