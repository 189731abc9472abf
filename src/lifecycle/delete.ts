import { existsSync } from "node:fs";
import { ContainerStateError } from "../errors.js";
import { CgroupSet } from "../cgroups/cgroupfs.js";
import { freezerFor, setFrozen } from "../cgroups/freezer.js";
import { containerPids } from "../cgroups/procs.js";
import { teardownNetwork } from "../network/setup.js";
import { isSameLiveProcess } from "../state/proc.js";
import type { ContainerRecord } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { killAndWait } from "./reap.js";
import { runPoststopHooks } from "./hooks.js";
import { sleepMs } from "../state/store.js";

/**
 * delete (runtime.md): only a stopped container, unless `force`, which kills it first. Removes the
 * cgroup and the state directory, then runs the poststop hooks. `force` on an unknown id succeeds (managers call it after failures).
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
  let deleted = false;
  try {
    const status = store.status(rec);
    if (status !== "stopped") {
      if (status === "creating") throw new ContainerStateError(id, `cannot delete container ${id}: it is being created`);
      if (!force) throw new ContainerStateError(id, `cannot delete container ${id} that is not stopped: it is ${status} (use --force)`);
    }
    const cgroup = new CgroupSet(rec.cgroupPath);
    killAll(rec);
    if (rec.network) teardownNetwork(rec.network, store.root, id);
    if (rec.cgroupPath) removeCgroup(rec, cgroup);
    if (existsSync(store.dir(id))) store.remove(id);
    deleted = true;
  } finally {
    unlock();
  }
  // poststop: once the container is stopped and everything it held is released (as runc, after its
  // state is gone too); a failure only warns.
  if (deleted) runPoststopHooks(ctx, rec);
}

/**
 * SIGKILL the init and anything left in the cgroup (sub-cgroups included), and wait until each has
 * exited. A frozen cgroup is thawed first: a v1-frozen process does not act on SIGKILL until it runs.
 */
function killAll(rec: ContainerRecord): void {
  const freezer = freezerFor(rec.cgroupPath);
  if (freezer) {
    try {
      setFrozen(freezer, false, 2000);
    } catch {
      // no such cgroup (a create that died before making it): nothing to thaw
    }
  }
  const pids = containerPids(rec.cgroupPath);
  if (rec.pid > 0 && isSameLiveProcess(rec.pid, rec.pidStartTime)) pids.push(rec.pid);
  killAndWait(pids);
}

/**
 * Remove the cgroup, retrying for a while: a process may still be leaving it (exit is not instant
 * after SIGKILL lands), or one was forked after the list was read. Each retry kills what is left.
 */
function removeCgroup(rec: ContainerRecord, cgroup: CgroupSet, timeoutMs = 5000): void {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 100)) {
    try {
      cgroup.remove(rec.cgroupCreated);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    killAll(rec);
    sleepMs(delay);
  }
}
