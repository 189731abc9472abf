import { ContainerStateError, TsrunError } from "../errors.js";
import { CgroupSet } from "../cgroups/cgroupfs.js";
import type { RuntimeContext } from "./context.js";

/** Send a signal to the container's init, or with `all` to every process in its cgroup. */
export function killContainer(ctx: RuntimeContext, id: string, signal: number, all = false): void {
  const { store } = ctx;
  const rec = store.read(id);
  const status = store.status(rec);
  if (status === "stopped" || status === "creating") {
    throw new ContainerStateError(id, `cannot kill container ${id}: container not running`);
  }
  const pids = all ? new CgroupSet(rec.cgroupPath).pids() : [rec.pid];
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
}
