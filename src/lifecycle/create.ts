import { existsSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ContainerStateError, HostError, TsrunError } from "../errors.js";
import { rootlessCgroupFacts } from "../cgroups/access.js";
import { type CgroupDriver, cgroupDriver } from "../cgroups/driver.js";
import { NO_CGROUP } from "../cgroups/members.js";
import { systemdFacts } from "../cgroups/systemd/host.js";
import { writeRecordedDeviceRules, writeRecordedResources } from "./update.js";
import { launchInit, type SyncData } from "../init/launch.js";
import { initPath } from "../init/locate.js";
import { prepareLayerDirs, removeLayerDirs } from "../fs/layers.js";
import { type CreatePlan, type CreatePlanInput, planCreate } from "../plan/create-plan.js";
import { containerProcessState } from "../security/seccomp/process-state.js";
import { SECCOMP_CACHE_DIR, SeccompCache, buildId } from "../security/seccomp/cache.js";
import { compileSeccomp } from "../security/seccomp/compile.js";
import { SECCOMP_FILE } from "../security/seccomp/saved.js";
import { readProcStat } from "../state/proc.js";
import { type ContainerRecord, checkId, deletedWhileCreating } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { crashPoint, faultAt, initKillPoint } from "./faults.js";
import { hostCapabilities, hostLimits, inNestedUserNamespace, isHostNetns, lastCap, numaNodes, onlineCpus, resctrlRoot } from "./host.js";
import { killAndWait } from "./reap.js";
import { writeIdMaps } from "./id-maps.js";
import { writePidFile } from "./pid-file.js";
import { UndoStack } from "./undo.js";
import { runHooks } from "../hooks/run.js";
import { runPoststopHooks } from "./hooks.js";
import { ociState } from "./state.js";
import { idMapFacts, userName } from "../security/subids.js";
import { linkNames } from "../network/ip.js";
import type { NetnsHandle } from "../network/netdevices-move.js";

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** Keep the caller's session keyring instead of a new one named after the container. */
  noNewKeyring?: boolean;
  /** `run` without --detach: the caller waits for the container's exit status through `exited`. */
  foreground?: boolean;
  /** --console-socket: the AF_UNIX socket that receives the pty master (process.terminal; detached only). */
  consoleSocket?: string;
  /** --pidfd-socket: the AF_UNIX socket that receives a pidfd of the init (runc 1.2+). */
  pidfdSocket?: string;
  /** Tests only: make create fail after the named step (see faults.ts). */
  failAfter?: string;
}

export interface Created {
  record: ContainerRecord;
  /** Foreground: the container's exit status (128+N when killed by signal N). */
  exited: Promise<number>;
  /** Foreground with process.terminal: tsrun-init relays the caller's terminal (resizes included). */
  attachedTerminal: boolean;
}

/**
 * create (runtime.md): everything up to the point where the user process is about to be executed.
 * Two phases: planCreate (src/plan/create-plan.ts) decides everything and raises every config error
 * with nothing made; actCreate then acquires what the plan says, under the undo stack.
 */
export async function createContainer(ctx: RuntimeContext, opts: CreateOptions): Promise<Created> {
  const id = checkId(opts.id);
  // Phase times behind --debug: from process start (performance.now()) to here is start-up and module loading.
  ctx.debug(`create ${id}: loading the bundle at ${performance.now().toFixed(2)} ms after process start`);
  const build = buildId();
  const cache = build ? new SeccompCache(join(ctx.store.root, SECCOMP_CACHE_DIR), build) : undefined;
  const plan = planCreate(withSeccompCache(createPlanInput(ctx, opts), cache));
  const created = await actCreate(ctx, plan, opts);
  cache?.save(); // the container exists: what was compiled for it is kept for the next create
  return created;
}

/**
 * Compiled seccomp filters kept under the state root, for the build that compiled them (bin/tsrun has a
 * build id; the library on Node has none and compiles every time). Only a real create reads and writes
 * the cache: createPlanInput stays free of side effects (--dry-run plans with it).
 */
function withSeccompCache(input: CreatePlanInput, cache: SeccompCache | undefined): CreatePlanInput {
  return cache ? { ...input, host: { ...input.host, compileSeccomp: cache.compiler((p) => compileSeccomp(p)) } } : input;
}

/** The input of planCreate for these options: the state paths of the id and the facts of this host. */
export function createPlanInput(ctx: RuntimeContext, opts: CreateOptions): CreatePlanInput {
  const id = checkId(opts.id);
  return {
    id,
    bundle: opts.bundle,
    stateDir: ctx.store.dir(id),
    fifoPath: ctx.store.fifoPath(id),
    noPivot: opts.noPivot,
    preserveFds: opts.preserveFds,
    foreground: opts.foreground,
    consoleSocket: opts.consoleSocket,
    pidfdSocket: opts.pidfdSocket,
    noNewKeyring: opts.noNewKeyring,
    systemdCgroup: ctx.systemdCgroup,
    host: {
      cgroups: (path, systemd) => cgroupDriver(path, { rootless: ctx.rootless.cgroups, ...(systemd ? { systemd } : {}) }),
      ...(ctx.systemdCgroup ? { systemd: systemdFacts(ctx.rootless.euid, ctx.rootless.cgroups) } : {}),
      hostCaps: hostCapabilities(),
      lastCap: lastCap(),
      hostLimits: hostLimits(),
      onlineCpus: onlineCpus(),
      numaNodes: numaNodes(),
      resctrlRoot: resctrlRoot(),
      isHostNetns,
      netLinks: (netns) => linkNames(netns),
      ...(ctx.rootless.nonRootEuid || ctx.rootless.cgroups ? { rootless: ctx.rootless } : {}),
      ...(ctx.rootless.nonRootEuid ? { idMapFacts: idMapFacts(ctx.rootless.euid, ctx.rootless.egid) } : {}),
      ...(ctx.rootless.cgroups ? { ...rootlessCgroupFacts(), nestedUserNs: inNestedUserNamespace() } : {}),
    },
  };
}

/**
 * create, phase 2: acquire what the plan says, in order. Each step pushes its undo; a failure anywhere
 * unwinds them all, so nothing is left behind. The config is not read again: everything is in the plan.
 */
async function actCreate(ctx: RuntimeContext, plan: CreatePlan, opts: CreateOptions): Promise<Created> {
  const { id, layers } = plan;
  const { store } = ctx;
  const cgroupPath = plan.cgroup.path;
  // No cgroup of its own (rootless, nothing writable, no resources asked): nothing is made or joined.
  const ownCgroup = cgroupPath !== NO_CGROUP;
  const systemd = plan.cgroup.systemd;
  const cgroup = cgroupDriver(cgroupPath, { rootless: ctx.rootless.cgroups, ...(systemd ? { systemd } : {}) });
  const undo = new UndoStack();
  const failAfter = opts.failAfter;
  const t0 = performance.now();
  ctx.debug(`create ${id}: bundle loaded and checked at ${t0.toFixed(2)} ms after process start; steps below are from here`);
  const step = (name: string) => {
    ctx.debug(`create ${id}: ${name} done at ${(performance.now() - t0).toFixed(2)} ms`);
    faultAt(name, failAfter);
    crashPoint("create", name);
  };
  let unlock: (() => void) | undefined;
  // linux.netDevices: tsrun's fd on the container's network namespace, held until create ends (see netdevices-move.ts).
  let netnsHeld: NetnsHandle | undefined;
  try {
    const claimed = store.claim(id);
    // Held until create returns: a delete racing this create waits for it instead of removing the
    // state dir under it (a dir without state.json yet reads as a dead create's). A delete that
    // locked first in the instant after the mkdir removes the dir (and another create may make it
    // again): then this create fails, and removes nothing, since the directory is not its own.
    unlock = lockNewContainer(ctx, id, claimed);
    undo.push("remove state directory", () => store.remove(id));
    step("claim");

    const record = newRecord(ctx, plan);
    // Recorded before the unit is started: a create killed from there on is cleaned up by delete.
    if (systemd) record.systemd = { ...systemd.unit };
    store.write(record);
    // A failed create is a container destroyed (runtime.md lifecycle: a failing create-time hook "continues
    // the lifecycle" at destroy and poststop): poststop runs last but one, after every resource is released.
    if (plan.hooks.poststop.length) undo.push("run poststop hooks", () => runPoststopHooks(ctx, record));
    step("state");

    if (ownCgroup) {
      makeCgroup(ctx, plan, cgroup, record, undo, step);
    } else {
      const { none } = plan.cgroup;
      // A cgroupsPath the config names and that is not made is worth a line to the user.
      if (none?.named) ctx.warn(`linux.cgroupsPath ${none.wanted} not used: ${none.reason}; the container has no cgroup of its own`);
      else ctx.debug(`create ${id}: no cgroup of its own, the container stays in the caller's: ${none?.reason ?? "rootless"}`);
      step("cgroup");
      step("resources");
    }

    if (layers) {
      // Per-container dirs are in the state dir (removed with it); a persistent upper made now is
      // removed only if this create fails, one that existed never.
      const made = prepareLayerDirs(layers);
      if (layers.persistent) undo.push("remove new persistent upper dir", () => removeLayerDirs(made));
    }
    step("layers");

    const netCtx = { id, root: store.root, stateDir: store.dir(id), undo, debug: (m: string) => ctx.debug(`create ${id}: ${m}`) };
    // The network code is loaded only for a config that has one: every create pays for what it loads.
    const network = plan.network ? await import("../network/setup.js") : undefined;
    const net = network && plan.network ? await network.prepareNetwork(plan.network, netCtx) : undefined;
    if (net) {
      // Recorded before anything is made in the kernel: a create killed from here on is cleaned up by delete.
      record.network = net.record;
      store.write(record);
    }
    step("network");

    const { launch } = plan;
    const joinPlan = plan.cgroup.join;
    ctx.debug(`launch plan: ${launch.records.length} records, clone flags 0x${launch.namespaces.cloneFlags.toString(16)}`);
    for (const w of launch.warnings) ctx.warn(w);
    if (launch.seccompSkipped.length) ctx.debug(`seccomp: syscalls unknown on every architecture of the filter, skipped: ${launch.seccompSkipped.join(", ")}`);
    // exec'd processes get the container's filter too: the profile as it was at create (in the state dir).
    if (plan.seccomp) writeFileSync(join(store.dir(id), SECCOMP_FILE), plan.seccomp.saved);
    step("plan");

    const init = initPath();
    ctx.debug(`create ${id}: starting tsrun-init at ${(performance.now() - t0).toFixed(2)} ms`);
    const launched = await launchInit({
      initPath: init,
      plan: plan.encoded,
      preserveFds: plan.preserveFds,
      foreground: plan.foreground,
      onSync: async (tag, pid) => {
        // The state hooks get: what `tsrun state` would print now, with the init's pid.
        const stateAs = (status: "creating" | "created") => ociState({ ...record, pid }, status);
        if (tag === launch.hooksSyncTag) {
          // Every mount is made, pivot_root is next: prestart (deprecated), then createRuntime, as runc.
          runHooks("prestart", plan.hooks.prestart, stateAs("creating"));
          runHooks("createRuntime", plan.hooks.createRuntime, stateAs("creating"));
          ctx.debug(`create ${id}: prestart/createRuntime hooks done at ${(performance.now() - t0).toFixed(2)} ms`);
          return;
        }
        ctx.debug(`create ${id}: init ${pid} waits for its cgroup at ${(performance.now() - t0).toFixed(2)} ms`);
        if (plan.idMaps) writeIdMaps(pid, plan.idMaps);
        await cgroup.join(pid, joinPlan.parentJoins);
        if (ownCgroup) ctx.debug(`create ${id}: init ${pid} in its cgroup at ${(performance.now() - t0).toFixed(2)} ms`);
        initKillPoint("create", "sync-joined", pid);
        crashPoint("create", "sync-joined");
        if (net) {
          // The init waits in its new network namespace: the veths go in before any container code runs.
          await network!.attachNetwork(net, pid, netCtx);
          ctx.debug(`create ${id}: network attached at ${(performance.now() - t0).toFixed(2)} ms`);
        }
        if (plan.netDevices) {
          const nd = await import("../network/netdevices-move.js");
          const states = nd.readDeviceStates(plan.netDevices.devices);
          // Recorded before the move: a create killed from here on is cleaned up by delete --force.
          const rec = nd.netDevicesRecord(plan.netDevices, states, pid, readProcStat(pid)?.startTime ?? 0);
          record.netDevices = rec;
          store.write(record);
          const held = nd.holdNetns(`/proc/${pid}/ns/net`);
          if (!held) throw new TsrunError(`container init (pid ${pid}) died before its network devices were moved`);
          netnsHeld = held;
          // Runs after the init is killed: the held fd keeps the namespace, and the devices in it, until then.
          undo.push("move network devices back", () => {
            const problems = nd.moveDevicesBack(rec, held);
            held.close();
            // Worth a line to the user (other undo failures only show under --debug): a device may be lost.
            for (const p of problems) ctx.warn(`linux.netDevices: ${p}`);
          });
          nd.moveDevicesIn(plan.netDevices, states, held);
          ctx.debug(`create ${id}: network devices moved at ${(performance.now() - t0).toFixed(2)} ms`);
        }
        initKillPoint("create", "sync-attached", pid);
        crashPoint("create", "sync-attached");
        // The state JSON of the hooks tsrun-init runs (createContainer, startContainer), on their stdin,
        // and the seccomp listener's payload: both carry the init's host pid, which only we know.
        const slots: SyncData = [];
        for (const { slot, status } of launch.stateSlots) slots[slot] = JSON.stringify(stateAs(status));
        if (launch.seccompListener) slots[launch.seccompListener.slot] = containerProcessState(record, pid, launch.seccompListener.metadata);
        return slots;
      },
    });
    undo.push("kill container init", () => killAndWait([launched.pid]));
    // The init waits at the exec fifo and forks no more: now a pids.limit of 0 can be written.
    if (plan.cgroup.afterLaunch) await cgroup.applyResources(plan.cgroup.afterLaunch, { warn: ctx.warn });
    step("launch");

    const st = readProcStat(launched.pid);
    if (!st) throw new TsrunError(`container init (pid ${launched.pid}) died before it was recorded`);
    record.pid = launched.pid;
    record.pidStartTime = st.startTime;
    record.status = "created";
    store.write(record);
    step("record");

    if (opts.pidFile) {
      writePidFile(resolve(opts.pidFile), launched.pid);
      const file = resolve(opts.pidFile);
      undo.push("remove pid file", () => unlinkSync(file));
    }
    step("pidfile");
    undo.commit();
    netnsHeld?.close();
    unlock();
    return { record, exited: launched.exited, attachedTerminal: plan.attachedTerminal };
  } catch (e) {
    const failures = await undo.unwind();
    netnsHeld?.close();
    for (const f of failures) ctx.debug(`cleanup after failed create: ${f}`);
    unlock?.(); // the state dir (and the lock in it) is normally gone with the undo
    throw e;
  }
}

/**
 * The container's cgroup: made, device rules in force, then the limits, before tsrun-init starts (it joins,
 * or is cloned into, the cgroup before any container code runs). Each step has its undo.
 */
export function makeCgroup(ctx: RuntimeContext, plan: CreatePlan, cgroup: CgroupDriver, record: ContainerRecord, undo: UndoStack, step: (name: string) => void): void {
  const { store } = ctx;
  const { id } = plan;
  // As runc: a frozen cgroup would hold the init stopped for ever; one that already has processes
  // is shared with them (runc 1.1 warns and goes on).
  const frozen = cgroup.frozenOnArrival();
  if (frozen) throw new HostError(`container's cgroup unexpectedly frozen (${frozen})`);
  // The systemd driver refuses a unit that exists here, before the pids are looked at.
  record.cgroupCreated = cgroup.create();
  undo.push("remove cgroup", () => {
    // A child killed by the launcher may not have exited yet: an occupied cgroup cannot be removed.
    killAndWait(cgroup.pids());
    return cgroup.remove(record.cgroupCreated);
  });
  const present = cgroup.pids().length;
  if (present) ctx.warn(`container's cgroup is not empty: ${present} process(es) found`);
  store.write(record);
  const devices = plan.cgroup.planned.devices;
  if (devices.kind === "skipped") {
    ctx.debug(`create ${id}: ${plan.cgroup.deviceRules.length} device cgroup rules not applied: ${devices.reason}`);
  } else {
    // Device rules before any process is in the cgroup; they go with the cgroup on rollback.
    cgroup.applyDevices(plan.cgroup.deviceRules, { warn: ctx.warn, initPath: initPath(), nestedUserNs: inNestedUserNamespace() });
    // update applies them again (as runc does).
    writeRecordedDeviceRules(store.dir(id), plan.cgroup.deviceRules);
  }
  step("cgroup");

  // A refused value fails create; the undo above removes the cgroup.
  const resources = plan.cgroup.resources;
  // Even without resources: on cgroup v2 this enables the controllers the container's stats need.
  // What must wait for the init (plan.cgroup.afterLaunch) is left out here and written after launch.
  const now = plan.cgroup.afterLaunch?.pids && resources?.pids ? { ...resources, pids: {} } : resources;
  cgroup.applyResources(now ?? {}, { warn: ctx.warn });
  if (resources) writeRecordedResources(store.dir(id), resources);
  step("resources");
}

/** A container's first record, status "creating" and no pid yet (create's, and restore's). */
export function newRecord(ctx: RuntimeContext, plan: CreatePlan): ContainerRecord {
  const record: ContainerRecord = {
    ociVersion: plan.ociVersion,
    id: plan.id,
    bundle: plan.bundle,
    rootfs: plan.rootfs,
    created: new Date().toISOString(),
    // runc's `owner`: the user who made it (list and state show it).
    owner: ctx.rootless.euid === 0 ? "root" : (userName(ctx.rootless.euid) ?? `#${ctx.rootless.euid}`),
    annotations: { ...plan.annotations },
    status: "creating",
    pid: 0,
    pidStartTime: 0,
    creatorPid: process.pid,
    creatorStartTime: readProcStat(process.pid)?.startTime ?? 0,
    cgroupPath: plan.cgroup.path,
    cgroupCreated: [],
    hasProcess: plan.hasProcess,
    ...(plan.noNewKeyring ? { noNewKeyring: true } : {}),
  };
  const { poststart, poststop } = plan.hooks;
  if (poststart.length || poststop.length) record.hooks = { poststart: [...poststart], poststop: [...poststop] };
  return record;
}

/** Lock the state dir this create made (inode `claimed`); fails if a delete took it away first. */
export function lockNewContainer(ctx: RuntimeContext, id: string, claimed: number): () => void {
  const gone = () => new ContainerStateError(id, deletedWhileCreating(id));
  let unlock: () => void;
  try {
    unlock = ctx.store.lock(id);
  } catch (e) {
    if (e instanceof ContainerStateError && !existsSync(ctx.store.dir(id))) throw gone();
    throw e;
  }
  let ino: number | undefined;
  try {
    ino = statSync(ctx.store.dir(id)).ino;
  } catch {
    // removed
  }
  if (ino !== claimed) {
    unlock();
    throw gone();
  }
  return unlock;
}
