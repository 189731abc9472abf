import { constants } from "node:os";
import { ContainerStateError, TsrunError } from "../errors.js";
import { freezerFor, setFrozen } from "../cgroups/freezer.js";
import { containerPids } from "../cgroups/procs.js";
import type { RuntimeContext } from "./context.js";

const SIGKILL = constants.signals.SIGKILL;

/**
 * Send a signal to the container's init, or with `all` to every process in its cgroup.
 *
 * A paused container: the signal is queued on its frozen processes. KILL is delivered and the cgroup
 * is then thawed, because a v1-frozen process does not die until it runs again (runc does the same);
 * any other signal stays pending until `resume`.
 */
export function killContainer(ctx: RuntimeContext, id: string, signal: number, all = false): void {
  const { store } = ctx;
  const rec = store.read(id);
  const status = store.status(rec);
  if (status === "stopped" || status === "creating") {
    throw new ContainerStateError(id, `cannot kill container ${id}: container not running`);
  }
  const freezer = freezerFor(rec.cgroupPath);
  const paused = status === "paused";
  // kill --all: freeze first, so that no process forks a child between the read of the pid list and
  // the signals. In the host's pid namespace there is no pid 1 whose death takes the rest with it,
  // so a child born in that window would survive; frozen, the list is complete.
  let froze = false;
  if (all && freezer && !paused) {
    try {
      setFrozen(freezer, true, 2000);
      froze = true;
    } catch (e) {
      ctx.debug(`kill --all ${id}: signalling without freezing: ${(e as Error).message}`);
    }
  }
  try {
    const pids = all ? containerPids(rec.cgroupPath) : [rec.pid];
    if (!pids.includes(rec.pid)) pids.push(rec.pid);
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ESRCH") {
          if (pid === rec.pid && !all) throw new ContainerStateError(id, `cannot kill container ${id}: container not running`);
          continue;
        }
        throw new TsrunError(`cannot send signal ${signal} to pid ${pid} of container ${id}: ${(e as Error).message}`);
      }
    }
  } finally {
    if (freezer && (froze || (paused && signal === SIGKILL))) setFrozen(freezer, false);
  }
}
