import { existsSync } from "node:fs";
import { ContainerStateError } from "../errors.js";
import { CgroupSet } from "../cgroups/cgroupfs.js";
import { teardownNetwork } from "../network/setup.js";
import { isSameLiveProcess } from "../state/proc.js";
import type { ContainerRecord } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { killAndWait } from "./reap.js";

/**
 * delete (runtime.md): only a stopped container, unless `force`, which kills it first. Removes the
 * cgroup and the state directory. `force` on an unknown id succeeds (managers call it after failures).
 */
export function deleteContainer(ctx: RuntimeContext, id: string, force = false): void {
  const { store } = ctx;
  let rec: ContainerRecord;
  try {
    rec = store.read(id);
  } catch (e) {
    if (force && e instanceof ContainerStateError) {
      store.remove(id);
      return;
    }
    throw e;
  }
  const unlock = store.lock(id);
  try {
    const status = store.status(rec);
    if (status !== "stopped") {
      if (status === "creating") throw new ContainerStateError(id, `cannot delete container ${id}: it is being created`);
      if (!force) throw new ContainerStateError(id, `cannot delete container ${id} that is not stopped: it is ${status} (use --force)`);
    }
    const cgroup = new CgroupSet(rec.cgroupPath);
    killAll(rec, cgroup);
    if (rec.network) teardownNetwork(rec.network, store.root, id);
    if (rec.cgroupPath) cgroup.remove(rec.cgroupCreated);
    if (existsSync(store.dir(id))) store.remove(id);
  } finally {
    unlock();
  }
}

/** SIGKILL the init and anything left in the cgroup, and wait until each has exited. */
function killAll(rec: ContainerRecord, cgroup: CgroupSet): void {
  const pids = rec.cgroupPath ? cgroup.pids() : [];
  if (rec.pid > 0 && isSameLiveProcess(rec.pid, rec.pidStartTime)) pids.push(rec.pid);
  killAndWait(pids);
}
