import { existsSync } from "node:fs";
import { ContainerStateError } from "../errors.js";
import { cgroupPathFor } from "../cgroups/path.js";
import type { CgroupMembers } from "../cgroups/driver.js";
import { NO_CGROUP, cgroupMembers } from "../cgroups/members.js";
import { isSameLiveProcess } from "../state/proc.js";
import { sleepMs } from "../state/sleep.js";
import { type ContainerRecord, CorruptStateError, checkId } from "../state/store.js";
import { dropCacheWhenNoContainers } from "../security/seccomp/cache.js";
import { crashPoint } from "./faults.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";
import { killAndWait } from "./reap.js";

/**
 * delete (runtime.md): only a stopped container, unless `force`, which kills it first. Removes the
 * cgroup and the state directory, then runs the poststop hooks. `force` on an unknown id succeeds
 * (managers call it after failures). The lock is taken before the record is read: a create holds it
 * until it is done, so what is read is never a create's half-written state.
 */
export async function deleteContainer(ctx: RuntimeContext, id: string, force = false): Promise<void> {
  const { store } = ctx;
  checkId(id);
  let unlock: () => void;
  try {
    unlock = store.lock(id);
  } catch (e) {
    if (force && e instanceof ContainerStateError && !existsSync(store.dir(id))) return;
    throw e;
  }
  let rec: ContainerRecord | undefined;
  let deleted = false;
  try {
    crashPoint("delete", "locked");
    try {
      rec = store.read(id);
    } catch (e) {
      if (force && e instanceof CorruptStateError) return await removeCorrupt(ctx, id);
      throw e;
    }
    checkVerb(force ? "delete --force" : "delete", liveStatus(store, rec), id);
    const cgroup = cgroupMembers(rec.cgroupPath, undefined, rec.systemd);
    // linux.netDevices: hold the container's network namespace before its processes are killed, so the
    // devices in it can still be moved back after.
    const devices = rec.netDevices !== undefined ? await holdDevices(rec.netDevices) : undefined;
    killAll(rec, cgroup);
    crashPoint("delete", "killed");
    if (devices) moveDevicesBack(ctx, devices);
    // Network and hook code is loaded only when the container has them: every delete pays for what it loads.
    if (rec.network) (await import("../network/setup.js")).teardownNetwork(rec.network, store.root, id);
    crashPoint("delete", "network");
    // No cgroup of its own (rootless): the init was all there was to kill, nothing to remove.
    if (rec.cgroupPath !== NO_CGROUP) await removeCgroup(rec, cgroup);
    crashPoint("delete", "cgroup");
    if (existsSync(store.dir(id))) store.remove(id);
    dropCacheWhenNoContainers(store.root, () => store.ids());
    deleted = true;
  } finally {
    unlock();
  }
  // poststop: once the container is stopped and everything it held is released (as runc, after its
  // state is gone too); a failure only warns.
  if (deleted && rec?.hooks?.poststop?.length) (await import("./hooks.js")).runPoststopHooks(ctx, rec);
}

/**
 * delete --force of a container whose state.json cannot be read: what it recorded is lost, so clean
 * up what can be found from the id alone. Processes in the default cgroup (/tsrun/<id>) are killed
 * and it is removed (a config's own cgroupsPath cannot be known), and with --systemd-cgroup the default
 * unit tsrun-<id>.scope is stopped; the host veth ends, named after the
 * id, are removed and the address leases held in the id's name released.
 */
async function removeCorrupt(ctx: RuntimeContext, id: string): Promise<void> {
  const rec = { ...ORPHAN, id, cgroupPath: cgroupPathFor(id, undefined) };
  const cgroup = cgroupMembers(rec.cgroupPath);
  killAll(rec, cgroup);
  await removeCgroup(rec, cgroup);
  if (ctx.systemdCgroup) {
    // With --systemd-cgroup: the default unit (tsrun-<id>.scope) too, when it is there.
    const { systemdCgroupPath, systemdUnitFor } = await import("../cgroups/systemd/unit-name.js");
    const unit = systemdUnitFor(id, undefined, ctx.rootless.cgroups);
    if (!unit.user) {
      const sd = { ...rec, cgroupPath: systemdCgroupPath(unit) };
      const members = cgroupMembers(sd.cgroupPath, undefined, unit);
      killAll(sd, members);
      await removeCgroup(sd, members);
    }
  }
  (await import("../network/setup.js")).teardownNetworkOf(ctx.store.root, id);
  ctx.store.remove(id);
  dropCacheWhenNoContainers(ctx.store.root, () => ctx.store.ids());
}

type HeldDevices = { nd: typeof import("../network/netdevices-move.js"); rec: import("../network/netdevices-move.js").NetDevicesRecord; held?: import("../network/netdevices-move.js").NetnsHandle };

/** The recorded devices and an fd on the namespace they are in: the joined path, else the init's while it lives. */
async function holdDevices(recorded: unknown): Promise<HeldDevices | undefined> {
  const nd = await import("../network/netdevices-move.js");
  if (!nd.isNetDevicesRecord(recorded)) return undefined; // a hand-edited state.json: nothing known to move
  const rec = recorded;
  let held = rec.joinedPath ? nd.holdNetns(rec.joinedPath) : undefined;
  if (!held && rec.pid > 0 && isSameLiveProcess(rec.pid, rec.pidStartTime)) held = nd.holdNetns(`/proc/${rec.pid}/ns/net`);
  return { nd, rec, held };
}

/** Move the devices back, or say why they cannot be (the namespace ended with the container). Warnings only:
 *  a device that cannot come back is not a reason to keep the container. */
function moveDevicesBack(ctx: RuntimeContext, { nd, rec, held }: HeldDevices): void {
  if (!held) return ctx.warn(nd.goneMessage(rec));
  try {
    for (const p of nd.moveDevicesBack(rec, held)) ctx.warn(`linux.netDevices: ${p}`);
  } finally {
    held.close();
  }
}

const ORPHAN = { pid: 0, pidStartTime: 0, cgroupCreated: [] as string[] };

/**
 * SIGKILL the init and anything left in the cgroup (sub-cgroups included), and wait until each has
 * exited. A frozen cgroup is thawed first: a v1-frozen process does not act on SIGKILL until it runs.
 */
function killAll(rec: Pick<ContainerRecord, "pid" | "pidStartTime">, cgroup: CgroupMembers): void {
  if (cgroup.hasFreezer()) {
    try {
      cgroup.setFrozen(false, 2000);
    } catch {
      // no such cgroup (a create that died before making it): nothing to thaw
    }
  }
  // cgroup.kill first where the kernel has it (every process at once, forks included); the pids are
  // still listed, signalled again (harmless) and waited for.
  cgroup.killAll();
  const pids = cgroup.pids();
  if (rec.pid > 0 && isSameLiveProcess(rec.pid, rec.pidStartTime)) pids.push(rec.pid);
  killAndWait(pids);
}

/**
 * Remove the cgroup, retrying for a while: a process may still be leaving it (exit is not instant
 * after SIGKILL lands), or one was forked after the list was read. Each retry kills what is left.
 */
async function removeCgroup(rec: Pick<ContainerRecord, "pid" | "pidStartTime" | "cgroupCreated">, cgroup: CgroupMembers, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 100)) {
    try {
      await cgroup.remove(rec.cgroupCreated);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    killAll(rec, cgroup);
    sleepMs(delay);
  }
}
