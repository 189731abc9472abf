/**
 * `create --dry-run` / `run --dry-run`: create's planning without any of its acts. Every config error
 * create would raise is raised here, with the same message and exit status; nothing is written (no state
 * directory, cgroup, mount, link, lease or file) and no process is started, so any user may run it.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigError, ContainerStateError, HostError } from "../errors.js";
import { cgroupDriver, type PlannedWrite } from "../cgroups/driver.js";
import { cgroupPathFor } from "../cgroups/path.js";
import { resolveLayers } from "../fs/layers.js";
import { hooksOf } from "../hooks/kinds.js";
import { etcFiles, etcMounts } from "../network/files.js";
import { planNetwork } from "../network/plan.js";
import { buildPlan } from "../plan/build.js";
import { Op, type PlanRecord } from "../plan/ops.js";
import type { ConfigMount } from "../fs/rootfs-plan.js";
import type { DryRunInputs } from "../plan/describe/inputs.js";
import { type DryRunFormat, dryRunJson, dryRunText } from "../plan/describe/format.js";
import { dryRunSteps } from "../plan/describe/steps.js";
import { checkConsoleFlags } from "../plan/terminal.js";
import { refuseUnsupported } from "../plan/unsupported.js";
import { loadBundle } from "../spec/load.js";
import type { Spec } from "../spec/types.js";
import { checkId } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import type { CreateOptions } from "./create.js";
import { hostCapabilities, hostLimits, isHostNetns, lastCap, onlineCpus } from "./host.js";

export interface DryRunOptions extends CreateOptions {
  /** `run --dry-run`: what follows create (start, wait, delete). */
  run?: { detach: boolean; keep: boolean };
}

/**
 * create's planning, step for step in its order, from today's pure pieces (the read-only ones where
 * create reads the host). To be replaced by the phase-1 planner `planCreate` once create is split:
 * then this becomes a mapping of its value. It must stay free of writes: every function called here
 * reads only.
 */
export async function gatherDryRunInputs(ctx: RuntimeContext, opts: DryRunOptions): Promise<DryRunInputs> {
  const id = checkId(opts.id);
  const { store } = ctx;
  const { bundle, spec, rootfs } = loadBundle(resolve(opts.bundle));
  refuseUnsupported(spec as Record<string, any>);
  const consoleSocket = opts.consoleSocket !== undefined ? resolve(opts.consoleSocket) : undefined;
  checkConsoleFlags(spec.process?.terminal === true, consoleSocket, !opts.foreground);
  const cgroupPath = cgroupPathFor(id, spec.linux?.cgroupsPath, ctx.systemdCgroup);
  const cgroup = cgroupDriver(cgroupPath);
  const resources = cgroup.planResources(spec.linux?.resources ?? {}, { rules: spec.linux?.resources?.devices, nodes: spec.linux?.devices });
  const namespaces = spec.linux?.namespaces ?? [];
  const newUser = namespaces.some((n) => n.type === "user" && !n.path);
  const mapsHostRoot = (m: { containerID: number; hostID: number; size: number }[] | undefined) => (m ?? []).some((x) => x.hostID === 0 && x.size > 0);
  const stateDir = store.dir(id);
  const layers = resolveLayers(spec.tsrun, {
    bundle,
    stateDir,
    newUser,
    hostRootMapped: mapsHostRoot(spec.linux?.uidMappings) && mapsHostRoot(spec.linux?.gidMappings),
    newMountNs: namespaces.some((n) => n.type === "mount" && !n.path),
  });
  // create's claim: the state directory must not exist yet.
  if (existsSync(stateDir)) throw new ContainerStateError(id, `container with id ${id} already exists`);

  const frozen = cgroup.frozenOnArrival();
  if (frozen) throw new HostError(`container's cgroup unexpectedly frozen (${frozen})`);
  const present = cgroup.pids().length;
  if (present) ctx.warn(`container's cgroup is not empty: ${present} process(es) found`);
  for (const w of resources.warnings) ctx.warn(w);
  checkControllers(resources.writes, ctx.warn);

  const network = await planNetworkDry(spec, id, stateDir);
  const joinPlan = cgroup.joinPlan(newUser);
  // create runs as root: as another user, plan what root's create would do instead of failing on what
  // only root may (raise a hard rlimit, open bind sources for a new user namespace).
  const root = process.geteuid?.() === 0;
  const limits = hostLimits();
  const plan = buildPlan({
    spec: network?.mounts.length ? { ...spec, mounts: [...(spec.mounts ?? []), ...network.planned] } : spec,
    rootfs,
    bundle,
    fifoPath: store.fifoPath(id),
    noPivot: opts.noPivot ?? false,
    preserveFds: opts.preserveFds ?? 0,
    foreground: opts.foreground ?? false,
    consoleSocket,
    cgroupMounts: cgroup.mounts(),
    cgroupJoin: joinPlan,
    hostCaps: hostCapabilities(),
    lastCap: lastCap(),
    layers,
    sessionKeyring: opts.noNewKeyring ? undefined : id,
    hostLimits: root ? limits : { ...limits, canRaise: true },
    onlineCpus: onlineCpus(),
    isHostNetns,
    hostRoot: true,
  });
  for (const w of plan.warnings) ctx.warn(w);
  if (network) nameEtcSources(plan.records, network.mounts, rootfs);

  const seccomp = spec.process && spec.linux?.seccomp;
  return {
    id,
    bundle,
    rootfs,
    root: store.root,
    stateDir,
    foreground: opts.foreground ?? false,
    cgroup: {
      path: cgroupPath,
      dirs: resources.dirs,
      enable: resources.enable,
      writes: resources.writes,
    },
    devices:
      resources.devices.kind === "none"
        ? { driver: "none", rules: resources.deviceRules }
        : { driver: resources.devices.kind === "bpf" ? "v2" : "v1", dir: resources.devices.dir, rules: resources.deviceRules },
    recordResources: spec.linux?.resources !== undefined,
    layers,
    network: network && { plan: network.plan, makeBridge: network.makeBridge, etcFiles: network.files },
    idMaps: plan.namespaces.newUser ? { uid: spec.linux!.uidMappings!, gid: spec.linux!.gidMappings! } : undefined,
    parentJoins: joinPlan.parentJoins,
    hooks: {
      prestart: hooksOf(spec.hooks, "prestart"),
      createRuntime: hooksOf(spec.hooks, "createRuntime"),
      poststart: hooksOf(spec.hooks, "poststart"),
      poststop: hooksOf(spec.hooks, "poststop"),
    },
    launch: { records: plan.records, syncTag: plan.syncTag, hooksSyncTag: plan.hooksSyncTag, stateSlots: plan.stateSlots, seccompListener: plan.seccompListener },
    seccomp: seccomp
      ? {
          defaultAction: seccomp.defaultAction,
          architectures: seccomp.architectures ?? [],
          rules: seccomp.syscalls?.length ?? 0,
          listenerPath: seccomp.listenerPath,
          flags: seccomp.flags ?? [],
          skipped: plan.seccompSkipped,
        }
      : undefined,
    pidFile: opts.pidFile !== undefined ? resolve(opts.pidFile) : undefined,
    run: opts.run,
  };
}

/**
 * prepareNetwork's checks without its acts: the plan, and the bridge name looked up in sysfs (read
 * only). No address is leased: which one create gets depends on the leases at that moment.
 */
async function planNetworkDry(spec: Spec, id: string, stateDir: string) {
  const nss = spec.linux?.namespaces ?? [];
  const netns = nss.find((n) => n.type === "network");
  const plan = planNetwork(spec.tsrun?.network, id, {
    newNetns: netns !== undefined && !netns.path,
    joinedNetns: netns?.path !== undefined && netns.path !== "",
    newUser: nss.some((n) => n.type === "user" && !n.path),
  });
  if (!plan) return undefined;
  const exists = existsSync(`/sys/class/net/${plan.bridge}`);
  if (exists && !existsSync(`/sys/class/net/${plan.bridge}/bridge`)) {
    // Only to name the device's kind in create's words (`ip -d link show`, which changes nothing).
    const { linkKind } = await import("../network/ip.js");
    const kind = await linkKind(plan.bridge);
    if (kind !== undefined && kind !== "bridge") {
      throw new ConfigError("/tsrun/network/bridge", `"${plan.bridge}" exists and is ${kind ? `a ${kind} device` : "a plain device"}, not a bridge`);
    }
  }
  const files = etcFiles(spec.tsrun!.network!, spec.hostname || undefined, []);
  const mounts = etcMounts(files, (f) => join(stateDir, f.name), spec.mounts ?? []);
  // The planner stats a bind source (a file gets a file as its mount point): the /etc files are not
  // written in a dry run, so a file that exists stands in for them, and nameEtcSources puts their
  // names back in the records.
  const planned = mounts.map((m) => ({ ...m, source: ETC_STAND_IN }));
  return { plan, makeBridge: !exists, files: files.map((f) => ({ name: f.name, destination: f.destination })), mounts, planned };
}

const ETC_STAND_IN = "/dev/null";

/** The MOUNT records of the network's /etc files: the stand-in source replaced by the file's path. */
function nameEtcSources(records: PlanRecord[], mounts: readonly ConfigMount[], rootfs: string): void {
  for (const m of mounts) {
    const target = join(rootfs, m.destination);
    const r = records.find((x) => x.op === Op.MOUNT && x.strs?.[0] === ETC_STAND_IN && x.strs[1] === target);
    if (r) r.strs![0] = m.source!;
  }
}

/**
 * What applying the writes finds when a write's controller is missing on this host, decided without
 * writing: an optional write is skipped with its warning, any other fails create with the field named
 * (the driver words it as applying would). A file missing under a controller that is there is only
 * found by the write itself.
 */
function checkControllers(writes: readonly PlannedWrite[], warn: (m: string) => void): void {
  for (const w of writes) {
    if (w.missing === undefined) continue;
    if (w.ifMissing !== undefined) {
      if (w.ifMissing) warn(w.ifMissing);
      continue;
    }
    throw new HostError(w.missing);
  }
}

/** The dry run's output in the asked form. */
export async function dryRunCreate(ctx: RuntimeContext, opts: DryRunOptions, format: DryRunFormat): Promise<string> {
  const inputs = await gatherDryRunInputs(ctx, opts);
  const steps = dryRunSteps(inputs);
  if (format === "json") return dryRunJson(steps);
  const verb = opts.run ? "run" : "create";
  return dryRunText(`tsrun ${verb} ${inputs.id} (dry run: nothing below is done) from bundle ${inputs.bundle}`, steps);
}
