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
  // With an attached terminal tsrun-init passes window changes to the pty itself (the kernel then signals
  // the pty's foreground process group): the container must not get an extra SIGWINCH from here.
  const forwarded = FORWARDED.filter((s) => !(created.attachedTerminal && s === "SIGWINCH"));
  if (!opts.detach) for (const s of forwarded) process.on(s, forward);
  try {
    try {
      await startContainer(ctx, opts.id);
    } catch (e) {
      await deleteContainer(ctx, opts.id, true);
      throw e;
    }
    crashPoint("run", "started");
    if (opts.detach) return 0;
    const status = await created.exited;
    crashPoint("run", "exited");
    if (!opts.keep) await deleteContainer(ctx, opts.id, true);
    return status;
  } finally {
    for (const s of forwarded) process.off(s, forward);
  }
}
