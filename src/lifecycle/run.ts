import type { RuntimeContext } from "./context.js";
import { type CreateOptions, createContainer } from "./create.js";
import { deleteContainer } from "./delete.js";
import { FORWARDED } from "./signals.js";
import { crashPoint } from "./faults.js";
import { startContainer } from "./start.js";

export interface RunOptions extends Omit<CreateOptions, "foreground"> {
  detach?: boolean;
  keep?: boolean;
}

/**
 * run: create + start, and unless detached wait for the process and delete the container (unless
 * `keep`). Returns the exit status to leave with: the process's, or 128+N when signal N killed it.
 */
export async function runContainer(ctx: RuntimeContext, opts: RunOptions): Promise<number> {
  const created = await createContainer(ctx, { ...opts, foreground: !opts.detach });
  const pid = created.record.pid;
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // exited meanwhile
    }
  };
  if (!opts.detach) for (const s of FORWARDED) process.on(s, forward);
  try {
    try {
      startContainer(ctx, opts.id);
    } catch (e) {
      deleteContainer(ctx, opts.id, true);
      throw e;
    }
    crashPoint("run", "started");
    if (opts.detach) return 0;
    const status = await created.exited;
    crashPoint("run", "exited");
    if (!opts.keep) deleteContainer(ctx, opts.id, true);
    return status;
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
  }
}
