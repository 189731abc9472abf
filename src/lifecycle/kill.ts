import { constants } from "node:os";
import { TsrunError } from "../errors.js";
import { NO_CGROUP, cgroupMembers } from "../cgroups/members.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";

const SIGKILL = constants.signals.SIGKILL;

/**
 * Send a signal to the container's init, or with `all` to every process in its cgroup, in the statuses
 * src/state/verb-rules.ts allows ("kill --all" also once the container has stopped). Signal 0
 * sends nothing: it checks that the init is alive (the error is the same as for any other signal).
 *
 * A paused container: the signal is queued on its frozen processes. KILL is delivered and the cgroup
 * is then thawed, because a v1-frozen process does not die until it runs again (runc does the same);
 * any other signal stays pending until `resume`.
 *
 * A container with no cgroup of its own (rootless, see NO_CGROUP): `--all` signals the init alone. With
 * a pid namespace of its own that is enough for KILL (the kernel ends the rest with its pid 1); without
 * one, processes it or `exec` started are not reached (runc 1.1 fails `kill --all` there instead).
 */
export function killContainer(ctx: RuntimeContext, id: string, signal: number, all = false): void {
  const { store } = ctx;
  const rec = store.read(id);
  const status = liveStatus(store, rec);
  checkVerb(all ? "kill --all" : "kill", status, id);
  const targets = all ? "cgroup" : "init";
  // The recorded pid is the init only while the container lives: once it has stopped, that number may
  // belong to another process by now.
  const initAlive = status !== "stopped";
  const cgroup = cgroupMembers(rec.cgroupPath);
  if (all && rec.cgroupPath === NO_CGROUP) ctx.debug(`kill --all ${id}: no cgroup of its own: signalling the init alone`);
  const canFreeze = cgroup.hasFreezer();
  const paused = status === "paused";
  // kill --all KILL on cgroup v2 (Linux 5.14+): one cgroup.kill write ends them all, forks meanwhile
  // included, with no freeze (runc's way, for SIGKILL only). A paused v1-frozen container is thawed below.
  const killed = targets === "cgroup" && signal === SIGKILL && cgroup.killAll();
  if (killed) ctx.debug(`kill --all ${id}: cgroup.kill written`);
  // kill --all: freeze first, so that no process forks a child between the read of the pid list and
  // the signals. In the host's pid namespace there is no pid 1 whose death takes the rest with it,
  // so a child born in that window would survive; frozen, the list is complete. Signal 0 changes
  // nothing, so it needs no freeze.
  let froze = false;
  if (targets === "cgroup" && !killed && canFreeze && !paused && signal !== 0) {
    try {
      cgroup.setFrozen(true, 2000);
      froze = true;
    } catch (e) {
      ctx.debug(`kill --all ${id}: signalling without freezing: ${(e as Error).message}`);
    }
  }
  try {
    const pids = killed ? [] : targets === "cgroup" ? cgroup.pids() : [rec.pid];
    if (!killed && initAlive && !pids.includes(rec.pid)) pids.push(rec.pid);
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ESRCH") {
          // The init exited since the status was read: as if it had been stopped then.
          if (pid === rec.pid && targets === "init") checkVerb("kill", "stopped", id);
          continue;
        }
        throw new TsrunError(`cannot send signal ${signal} to pid ${pid} of container ${id}: ${(e as Error).message}`);
      }
    }
  } finally {
    if (canFreeze && (froze || (paused && signal === SIGKILL))) cgroup.setFrozen(false);
  }
}
