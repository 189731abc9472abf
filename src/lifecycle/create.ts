import { existsSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ContainerStateError, HostError, TsrunError } from "../errors.js";
import { CgroupSet } from "../cgroups/cgroupfs.js";
import { applyDevices } from "../cgroups/devices.js";
import { containerDeviceRules } from "../cgroups/devices-rules.js";
import { frozenOnArrival } from "../cgroups/freezer.js";
import { hostHierarchies } from "../cgroups/hierarchy.js";
import { cgroupPathFor } from "../cgroups/path.js";
import { containerPids } from "../cgroups/procs.js";
import { applyResources, writesFor } from "../cgroups/apply.js";
import { writeRecordedDeviceRules, writeRecordedResources } from "./update.js";
import { launchInit, type SyncData } from "../init/launch.js";
import { initPath } from "../init/locate.js";
import { prepareLayerDirs, removeLayerDirs, resolveLayers } from "../fs/layers.js";
import { buildPlan, idMapText } from "../plan/build.js";
import { encodePlan } from "../launch/encode.js";
import { checkConsoleFlags } from "../plan/terminal.js";
import { refuseUnsupported } from "../plan/unsupported.js";
import { loadBundle } from "../spec/load.js";
import { containerProcessState } from "../security/seccomp/process-state.js";
import { SECCOMP_FILE } from "../security/seccomp/saved.js";
import { readProcStat } from "../state/proc.js";
import { type ContainerRecord, checkId, deletedWhileCreating } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { crashPoint, faultAt, initKillPoint } from "./faults.js";
import { hostCapabilities, hostLimits, inNestedUserNamespace, isHostNetns, lastCap, onlineCpus } from "./host.js";
import { killAndWait } from "./reap.js";
import { writePidFile } from "./pid-file.js";
import { UndoStack } from "./undo.js";
import { hooksOf } from "../hooks/kinds.js";
import { runHooks } from "../hooks/run.js";
import { runPoststopHooks } from "./hooks.js";
import { ociState } from "./state.js";

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
 * Each step pushes its undo; a failure anywhere unwinds them all, so nothing is left behind.
 */
export async function createContainer(ctx: RuntimeContext, opts: CreateOptions): Promise<Created> {
  const id = checkId(opts.id);
  const { store } = ctx;
  // Phase times behind --debug: from process start (performance.now()) to here is start-up and module loading.
  ctx.debug(`create ${id}: loading the bundle at ${performance.now().toFixed(2)} ms after process start`);
  const { bundle, spec, rootfs } = loadBundle(resolve(opts.bundle));
  refuseUnsupported(spec as Record<string, any>);
  const consoleSocket = opts.consoleSocket !== undefined ? resolve(opts.consoleSocket) : undefined;
  checkConsoleFlags(spec.process?.terminal === true, consoleSocket, !opts.foreground);
  const cgroupPath = cgroupPathFor(id, spec.linux?.cgroupsPath, ctx.systemdCgroup);
  // Config errors of the device rules and resources (a bad rule, unified keys on a v1 host, ...)
  // before anything exists; the writes themselves are planned again against the cgroup as it is.
  const deviceRules = containerDeviceRules(spec.linux?.resources?.devices, spec.linux?.devices);
  writesFor(spec.linux?.resources ?? {}, hostHierarchies());
  const namespaces = spec.linux?.namespaces ?? [];
  const newUser = namespaces.some((n) => n.type === "user" && !n.path);
  const mapsHostRoot = (m: { containerID: number; hostID: number; size: number }[] | undefined) =>
    (m ?? []).some((x) => x.hostID === 0 && x.size > 0);
  // Layers are resolved and checked before anything exists: a bad layer leaves nothing to undo.
  const layers = resolveLayers(spec.tsrun, {
    bundle,
    stateDir: store.dir(id),
    newUser,
    hostRootMapped: mapsHostRoot(spec.linux?.uidMappings) && mapsHostRoot(spec.linux?.gidMappings),
    newMountNs: namespaces.some((n) => n.type === "mount" && !n.path),
  });
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
  try {
    const claimed = store.claim(id);
    // Held until create returns: a delete racing this create waits for it instead of removing the
    // state dir under it (a dir without state.json yet reads as a dead create's). A delete that
    // locked first in the instant after the mkdir removes the dir (and another create may make it
    // again): then this create fails, and removes nothing, since the directory is not its own.
    unlock = lockNewContainer(ctx, id, claimed);
    undo.push("remove state directory", () => store.remove(id));
    step("claim");

    const self = readProcStat(process.pid);
    const record: ContainerRecord = {
      ociVersion: spec.ociVersion,
      id,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      owner: "root",
      annotations: (spec.annotations as Record<string, string> | undefined) ?? {},
      status: "creating",
      pid: 0,
      pidStartTime: 0,
      creatorPid: process.pid,
      creatorStartTime: self?.startTime ?? 0,
      cgroupPath,
      cgroupCreated: [],
      hasProcess: spec.process !== undefined,
      ...(opts.noNewKeyring ? { noNewKeyring: true } : {}),
    };
    const poststart = hooksOf(spec.hooks, "poststart"), poststop = hooksOf(spec.hooks, "poststop");
    if (poststart.length || poststop.length) record.hooks = { poststart: [...poststart], poststop: [...poststop] };
    store.write(record);
    // A failed create is a container destroyed (runtime.md lifecycle: a failing create-time hook "continues
    // the lifecycle" at destroy and poststop): poststop runs last but one, after every resource is released.
    if (poststop.length) undo.push("run poststop hooks", () => runPoststopHooks(ctx, record));
    step("state");

    // As runc: a frozen cgroup would hold the init stopped for ever; one that already has processes
    // is shared with them (runc 1.1 warns and goes on).
    const frozen = frozenOnArrival(cgroupPath);
    if (frozen) throw new HostError(`container's cgroup unexpectedly frozen (${frozen})`);
    const present = containerPids(cgroupPath).length;
    if (present) ctx.warn(`container's cgroup is not empty: ${present} process(es) found`);
    const cgroup = new CgroupSet(cgroupPath);
    record.cgroupCreated = cgroup.create();
    undo.push("remove cgroup", () => {
      // A child killed by the launcher may not have exited yet: an occupied cgroup cannot be removed.
      killAndWait(cgroup.pids());
      cgroup.remove(record.cgroupCreated);
    });
    store.write(record);
    // Device rules before any process is in the cgroup; they go with the cgroup on rollback.
    applyDevices(deviceRules, cgroupPath, hostHierarchies(), initPath(), { warn: ctx.warn, nestedUserNs: inNestedUserNamespace() });
    // update applies them again (as runc does).
    writeRecordedDeviceRules(store.dir(id), deviceRules);
    step("cgroup");

    // Limits are in place before tsrun-init starts: it joins (or is cloned into) this cgroup before
    // any container code runs. A refused value fails create; the undo above removes the cgroup.
    const resources = spec.linux?.resources;
    // Even without resources: on cgroup v2 this enables the controllers the container's stats need.
    applyResources(cgroup, resources ?? {}, { warn: ctx.warn });
    if (resources) {
      writeRecordedResources(store.dir(id), resources);
    }
    step("resources");

    if (layers) {
      // Per-container dirs are in the state dir (removed with it); a persistent upper made now is
      // removed only if this create fails, one that existed never.
      const made = prepareLayerDirs(layers);
      if (layers.persistent) undo.push("remove new persistent upper dir", () => removeLayerDirs(made));
    }
    step("layers");

    const netCtx = { id, root: store.root, stateDir: store.dir(id), undo, debug: (m: string) => ctx.debug(`create ${id}: ${m}`) };
    // The network code is loaded only for a config that has one: every create pays for what it loads.
    const network = spec.tsrun?.network !== undefined ? await import("../network/setup.js") : undefined;
    const net = network ? await network.prepareNetwork(spec, netCtx) : undefined;
    if (net) {
      // Recorded before anything is made in the kernel: a create killed from here on is cleaned up by delete.
      record.network = net.record;
      store.write(record);
    }
    step("network");

    const joinPlan = cgroup.joinPlan(newUser);
    const plan = buildPlan({
      // The network's /etc files are bind mounts after the config's own.
      spec: net?.mounts.length ? { ...spec, mounts: [...(spec.mounts ?? []), ...net.mounts] } : spec,
      rootfs,
      bundle,
      fifoPath: store.fifoPath(id),
      noPivot: opts.noPivot ?? false,
      preserveFds: opts.preserveFds ?? 0,
      foreground: opts.foreground ?? false,
      consoleSocket,
      cgroupPath,
      hierarchies: hostHierarchies(),
      cgroupJoin: joinPlan,
      hostCaps: hostCapabilities(),
      lastCap: lastCap(),
      layers,
      sessionKeyring: opts.noNewKeyring ? undefined : id,
      hostLimits: hostLimits(),
      onlineCpus: onlineCpus(),
      isHostNetns,
    });
    ctx.debug(`launch plan: ${plan.records.length} records, clone flags 0x${plan.namespaces.cloneFlags.toString(16)}`);
    for (const w of plan.warnings) ctx.warn(w);
    if (plan.seccompSkipped.length) ctx.debug(`seccomp: syscalls unknown on every architecture of the filter, skipped: ${plan.seccompSkipped.join(", ")}`);
    // exec'd processes get the container's filter too: the profile as it was at create (in the state dir).
    if (spec.process && spec.linux?.seccomp) writeFileSync(join(store.dir(id), SECCOMP_FILE), JSON.stringify(spec.linux.seccomp));
    step("plan");

    const init = initPath();
    ctx.debug(`create ${id}: starting tsrun-init at ${(performance.now() - t0).toFixed(2)} ms`);
    const launched = await launchInit({
      initPath: init,
      plan: encodePlan(plan.records),
      preserveFds: opts.preserveFds ?? 0,
      foreground: opts.foreground ?? false,
      onSync: async (tag, pid) => {
        // The state hooks get: what `tsrun state` would print now, with the init's pid.
        const stateAs = (status: "creating" | "created") => ociState({ ...record, pid }, status);
        if (tag === plan.hooksSyncTag) {
          // Every mount is made, pivot_root is next: prestart (deprecated), then createRuntime, as runc.
          runHooks("prestart", hooksOf(spec.hooks, "prestart"), stateAs("creating"));
          runHooks("createRuntime", hooksOf(spec.hooks, "createRuntime"), stateAs("creating"));
          ctx.debug(`create ${id}: prestart/createRuntime hooks done at ${(performance.now() - t0).toFixed(2)} ms`);
          return;
        }
        ctx.debug(`create ${id}: init ${pid} waits for its cgroup at ${(performance.now() - t0).toFixed(2)} ms`);
        if (plan.namespaces.newUser) {
          // Host root writes the maps, so setgroups need not be denied.
          writeFileSync(`/proc/${pid}/uid_map`, idMapText(spec.linux!.uidMappings!));
          writeFileSync(`/proc/${pid}/gid_map`, idMapText(spec.linux!.gidMappings!));
        }
        cgroup.join(pid, joinPlan.parentJoins);
        ctx.debug(`create ${id}: init ${pid} in its cgroup at ${(performance.now() - t0).toFixed(2)} ms`);
        initKillPoint("create", "sync-joined", pid);
        crashPoint("create", "sync-joined");
        if (net) {
          // The init waits in its new network namespace: the veths go in before any container code runs.
          await network!.attachNetwork(net, pid, netCtx);
          ctx.debug(`create ${id}: network attached at ${(performance.now() - t0).toFixed(2)} ms`);
        }
        initKillPoint("create", "sync-attached", pid);
        crashPoint("create", "sync-attached");
        // The state JSON of the hooks tsrun-init runs (createContainer, startContainer), on their stdin,
        // and the seccomp listener's payload: both carry the init's host pid, which only we know.
        const slots: SyncData = [];
        for (const { slot, status } of plan.stateSlots) slots[slot] = JSON.stringify(stateAs(status));
        if (plan.seccompListener) slots[plan.seccompListener.slot] = containerProcessState(record, pid, plan.seccompListener.metadata);
        return slots;
      },
    });
    undo.push("kill container init", () => killAndWait([launched.pid]));
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
    unlock();
    return { record, exited: launched.exited, attachedTerminal: spec.process?.terminal === true && opts.foreground === true };
  } catch (e) {
    const failures = await undo.unwind();
    for (const f of failures) ctx.debug(`cleanup after failed create: ${f}`);
    unlock?.(); // the state dir (and the lock in it) is normally gone with the undo
    throw e;
  }
}

/** Lock the state dir this create made (inode `claimed`); fails if a delete took it away first. */
function lockNewContainer(ctx: RuntimeContext, id: string, claimed: number): () => void {
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
