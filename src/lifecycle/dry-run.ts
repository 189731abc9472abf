/**
 * `create --dry-run` / `run --dry-run`: create's planning without any of its acts. Every config error
 * create would raise is raised here, with the same message and exit status; nothing is written (no state
 * directory, cgroup, mount, link, lease or file) and no process is started, so any user may run it.
 */
import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { ConfigError, ContainerStateError, HostError } from "../errors.js";
import { cgroupDriver, type PlannedWrite } from "../cgroups/driver.js";
import { NO_CGROUP } from "../cgroups/members.js";
import { planCreate } from "../plan/create-plan.js";
import type { DryRunInputs } from "../plan/describe/inputs.js";
import { type DryRunFormat, dryRunJson, dryRunText } from "../plan/describe/format.js";
import { dryRunSteps } from "../plan/describe/steps.js";
import type { RuntimeContext } from "./context.js";
import { type CreateOptions, createPlanInput } from "./create.js";

export interface DryRunOptions extends CreateOptions {
  /** `run --dry-run`: what follows create (start, wait, delete). */
  run?: { detach: boolean; keep: boolean };
}

/**
 * create's phase 1 (planCreate), then the checks create makes of the host before it acts, read only:
 * the id is free, the cgroup is not frozen, the controllers of the writes are there, the bridge name is
 * not another kind of device. Nothing here writes.
 */
export async function gatherDryRunInputs(ctx: RuntimeContext, opts: DryRunOptions): Promise<DryRunInputs> {
  const input = createPlanInput(ctx, opts);
  // create runs as root: as another user, plan what root's create would do instead of failing on what
  // only root may (raise a hard rlimit, open bind sources for a new user namespace).
  const root = process.geteuid?.() === 0;
  const limits = input.host.hostLimits;
  const plan = planCreate({
    ...input,
    host: { ...input.host, hostRoot: true, ...(!root && limits ? { hostLimits: { ...limits, canRaise: true } } : {}) },
  });
  const { id, cgroup } = plan;
  const stateDir = ctx.store.dir(id);
  // create's claim: the state directory must not exist yet.
  if (existsSync(stateDir)) throw new ContainerStateError(id, `container with id ${id} already exists`);

  if (cgroup.path !== NO_CGROUP) {
    const driver = cgroupDriver(cgroup.path, { rootless: ctx.rootless.cgroups, ...(cgroup.systemd ? { systemd: cgroup.systemd } : {}) });
    const frozen = driver.frozenOnArrival();
    if (frozen) throw new HostError(`container's cgroup unexpectedly frozen (${frozen})`);
    const present = driver.pids().length;
    if (present) ctx.warn(`container's cgroup is not empty: ${present} process(es) found`);
  }
  for (const w of cgroup.planned.warnings) ctx.warn(w);
  checkControllers(cgroup.planned.writes, ctx.warn);
  const makeBridge = plan.network ? await checkBridge(plan.network.plan.bridge) : false;
  for (const w of plan.launch.warnings) ctx.warn(w);

  const devices = cgroup.planned.devices;
  return {
    id,
    bundle: plan.bundle,
    rootfs: plan.rootfs,
    root: ctx.store.root,
    stateDir,
    foreground: plan.foreground,
    cgroup: {
      path: cgroup.path,
      dirs: cgroup.planned.dirs,
      enable: cgroup.planned.enable,
      writes: [...cgroup.planned.writes],
      ...(cgroup.none ? { none: { ...cgroup.none } } : {}),
      ...(cgroup.planned.unit ? { unit: cgroup.planned.unit } : {}),
    },
    devices:
      devices.kind === "none"
        ? { driver: "none", rules: [...cgroup.deviceRules] }
        : devices.kind === "skipped"
          ? { driver: "skipped", reason: devices.reason, rules: [...cgroup.deviceRules] }
          : { driver: devices.kind === "bpf" ? "v2" : "v1", dir: devices.dir, rules: [...cgroup.deviceRules] },
    recordResources: cgroup.resources !== undefined,
    layers: plan.layers,
    network: plan.network && {
      plan: plan.network.plan,
      makeBridge,
      etcFiles: plan.network.mounts.map((m) => ({ name: basename(m.source!), destination: m.destination })),
    },
    idMaps: plan.idMappings && { uid: [...plan.idMappings.uid], gid: [...plan.idMappings.gid] },
    parentJoins: [...cgroup.join.parentJoins],
    hooks: plan.hooks,
    launch: plan.launch,
    seccomp: plan.seccomp && {
      ...plan.seccomp.summary,
      architectures: [...plan.seccomp.summary.architectures],
      flags: [...plan.seccomp.summary.flags],
      skipped: [...plan.seccomp.summary.skipped],
    },
    pidFile: opts.pidFile !== undefined ? resolve(opts.pidFile) : undefined,
    run: opts.run,
  };
}

/**
 * prepareNetwork's bridge check without its acts: the name looked up in sysfs (read only). Returns
 * whether create would make the bridge. No address is leased: which one create gets depends on the
 * leases at that moment.
 */
async function checkBridge(bridge: string): Promise<boolean> {
  const exists = existsSync(`/sys/class/net/${bridge}`);
  if (exists && !existsSync(`/sys/class/net/${bridge}/bridge`)) {
    // Only to name the device's kind in create's words (`ip -d link show`, which changes nothing).
    const { linkKind } = await import("../network/ip.js");
    const kind = await linkKind(bridge);
    if (kind !== undefined && kind !== "bridge") {
      throw new ConfigError("/tsrun/network/bridge", `"${bridge}" exists and is ${kind ? `a ${kind} device` : "a plain device"}, not a bridge`);
    }
  }
  return !exists;
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
