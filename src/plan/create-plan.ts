/**
 * create, phase 1: a bundle and the create flags -> everything create will do, as one immutable value.
 * Pure as far as the host goes: it reads (the bundle, the layers, what the host facts do not give) but
 * writes nothing and starts no process, so every config error is raised here, before anything exists,
 * and it runs without root (unit tests; `create --dry-run`). Phase 2 (src/lifecycle/create.ts) acts on
 * the plan and never reads the config again.
 */
import type { Rootless } from "../security/rootless.js";
import { resolve } from "node:path";
import type { CgroupAccess } from "../cgroups/access.js";
import type { DeviceRule } from "../cgroups/devices-rules.js";
import type { CgroupDriver, CgroupJoinPlan, CgroupMounts, CgroupPlan as DriverPlan, SystemdDriverOptions } from "../cgroups/driver.js";
import { annotationProperties } from "../cgroups/systemd/annotations.js";
import { systemdCgroupPath, systemdUnitFor } from "../cgroups/systemd/unit-name.js";
import { NO_CGROUP } from "../cgroups/members.js";
import { cgroupPathFor } from "../cgroups/path.js";
import { type LayerSetup, resolveLayers } from "../fs/layers.js";
import { HOOK_KINDS, hooksOf } from "../hooks/kinds.js";
import { type ContainerNetworkPlan, planContainerNetwork } from "../network/plan.js";
import { type NetDevicesPlan, planNetDevices } from "../network/netdevices.js";
import type { LsmState } from "../security/lsm.js";
import type { HostLimits } from "../security/rlimits.js";
import { loadBundle } from "../spec/load.js";
import type { Hook, HookName, LinuxResources, LinuxSeccomp, Spec } from "../spec/types.js";
import type { CompiledSeccomp } from "../security/seccomp/compile.js";
import { checkId } from "../state/store.js";
import { ConfigError, HostError } from "../errors.js";
import { buildPlan, type LaunchPlan } from "./build.js";
import { type IdMapPlan, planIdMaps } from "./id-maps.js";
import type { IdMapFacts } from "../security/subids.js";
import { encodePlan } from "../launch/encode.js";
import type { IdMapping, NamespacePlan } from "./namespaces.js";
import { checkConsoleFlags } from "./terminal.js";
import { refuseIntelRdt, refuseUnsupported } from "./unsupported.js";

/** What create needs to know of the host; gathered by the caller (lifecycle/host.ts), given by unit tests. */
export interface CreateHostFacts {
  /** The cgroup driver of this host for a container's cgroup path (cgroupDriver; chosen once per call);
   *  `systemd`: the systemd driver's unit. */
  readonly cgroups: (path: string, systemd?: SystemdDriverOptions) => CgroupDriver;
  /** --systemd-cgroup: systemd is PID 1 here (/run/systemd/system), and the cgroup of the caller's own
   *  systemd instance when rootless (user@<uid>.service; absent: there is none). */
  readonly systemd?: { readonly running: boolean; readonly userManagerCgroup?: string };
  /** The capability bounding set of tsrun and /proc/sys/kernel/cap_last_cap. */
  readonly hostCaps: bigint;
  readonly lastCap: number;
  readonly hostLimits?: HostLimits;
  readonly onlineCpus?: bigint[];
  /** The online NUMA nodes (/sys/devices/system/node/online) for linux.memoryPolicy; absent: no NUMA support. */
  readonly numaNodes?: bigint[];
  /** Where the resctrl filesystem is mounted (linux.intelRdt); absent: nowhere. */
  readonly resctrlRoot?: string;
  /** Whether a network namespace file is tsrun's own. */
  readonly isHostNetns: (path: string) => boolean;
  /** Names of the links in tsrun's network namespace, or in the one at `netnsPath` (asked only for a config
   *  with linux.netDevices); absent: not checked at plan time. */
  readonly netLinks?: (netnsPath?: string) => readonly string[];
  /** Probed by the launch planner when undefined (see PlanInput). */
  readonly selinux?: boolean;
  readonly lsm?: LsmState;
  readonly hostRoot?: boolean;
  /** The caller when it is not plain host root (src/security/rootless.ts); absent: host root. */
  readonly rootless?: Rootless;
  /** Rootless cgroups: whether the caller can make and join the cgroup at a path (probeCgroupAccess);
   *  absent: it can. */
  readonly cgroupAccess?: (path: string) => CgroupAccess;
  /** Rootless cgroups on a cgroup v2 host: where a relative linux.cgroupsPath, and the default (the id),
   *  go (rootlessCgroupBase: the parent of the caller's own cgroup, as runc's fs2 driver). */
  readonly rootlessCgroupBase?: string;
  /** tsrun runs in a user namespace other than the initial one. */
  readonly nestedUserNs?: boolean;
  /** A non-root caller's own ids and subordinate ranges, and newuidmap/newgidmap (src/security/subids.ts). */
  readonly idMapFacts?: IdMapFacts;
  /** Compiled seccomp filters from a cache (src/security/seccomp/cache.ts); absent: compiled here. */
  readonly compileSeccomp?: (profile: LinuxSeccomp) => CompiledSeccomp;
}

export interface CreatePlanInput {
  id: string;
  /** The bundle directory as given (resolved here). */
  bundle: string;
  /** The container's state directory and exec fifo (StateStore.dir, fifoPath): nothing is made there here. */
  stateDir: string;
  fifoPath: string;
  noPivot?: boolean;
  preserveFds?: number;
  foreground?: boolean;
  /** --console-socket as given (resolved here). */
  consoleSocket?: string;
  /** --pidfd-socket as given (resolved by the planner). */
  pidfdSocket?: string;
  noNewKeyring?: boolean;
  /** --systemd-cgroup. */
  systemdCgroup?: boolean;
  host: CreateHostFacts;
}

/** The container's cgroup: everything create makes and writes there (the one spot a cgroup driver plans). */
export interface CgroupPlan {
  /** The path inside each hierarchy; "" (NO_CGROUP): the container has no cgroup of its own. */
  readonly path: string;
  /** Why there is no cgroup of its own (rootless, the cgroup not writable, no resources asked), and
   *  the path it would have had, for --debug and --dry-run. */
  readonly none?: { readonly reason: string; readonly wanted: string; readonly named: boolean };
  /** Device rules, in the order they are applied (defaults, then the config's). */
  readonly deviceRules: readonly DeviceRule[];
  /** linux.resources as the config gives them: applied and recorded (for update) once the cgroup exists. */
  readonly resources?: LinuxResources;
  /** What is written only once the init waits at the exec fifo, not before it starts: a pids.limit of 0
   *  (runtime-spec 1.3), under which the init could not be cloned into its cgroup (cgroup v2
   *  CLONE_INTO_CGROUP is a fork, and forks are what pids.max counts). runc sets every limit there. */
  readonly afterLaunch?: LinuxResources;
  /** What the driver will make and write on this host, against a fresh cgroup (a v1 host's order is
   *  planned again against the cgroup as it is, when they are applied): directories, control-file
   *  writes, how the device rules are enforced. */
  readonly planned: DriverPlan;
  /** How the init gets into the cgroup. */
  readonly join: Readonly<CgroupJoinPlan>;
  /** What the container's cgroup mounts show (for the rootfs planner). */
  readonly mounts: CgroupMounts;
  /** --systemd-cgroup: the unit create starts (recorded for every later verb) and the annotations' properties. */
  readonly systemd?: SystemdDriverOptions;
}

/** The hooks of every kind, in lifecycle order (empty lists included). */
export type HookPlan = { readonly [K in HookName]: readonly Hook[] };

export interface SeccompSummary {
  readonly defaultAction: string;
  readonly architectures: readonly string[];
  /** Rules of linux.seccomp.syscalls, and the syscall names they list. */
  readonly rules: number;
  readonly syscalls: number;
  readonly listenerPath?: string;
  readonly flags: readonly string[];
  /** Names no architecture of the filter knows (skipped, as runc does). */
  readonly skipped: readonly string[];
}

/** Everything create will do, in order. */
export interface CreatePlan {
  readonly id: string;
  readonly bundle: string;
  readonly rootfs: string;
  /** What the state record keeps of the config. */
  readonly ociVersion: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly hasProcess: boolean;
  readonly noNewKeyring: boolean;
  /** A foreground create with process.terminal: tsrun-init relays the caller's terminal. */
  readonly attachedTerminal: boolean;
  readonly preserveFds: number;
  readonly foreground: boolean;
  /** New and joined namespaces of the init. */
  readonly namespaces: NamespacePlan;
  /** How the init's uid_map and gid_map are written (a new user namespace only). */
  readonly idMaps?: IdMapPlan;
  /** The same mappings as the config gives them (for --dry-run). */
  readonly idMappings?: { readonly uid: readonly IdMapping[]; readonly gid: readonly IdMapping[] };
  readonly cgroup: CgroupPlan;
  readonly layers?: LayerSetup;
  readonly network?: ContainerNetworkPlan;
  /** linux.netDevices: the host devices moved into the container's network namespace. */
  readonly netDevices?: NetDevicesPlan;
  readonly hooks: HookPlan;
  /** linux.seccomp (with a process): summarised, and the text saved in the state dir for exec. */
  readonly seccomp?: { readonly summary: SeccompSummary; readonly saved: string };
  /** The launch plan tsrun-init executes, and its encoding. */
  readonly launch: LaunchPlan;
  readonly encoded: Buffer;
}

/** Phase 1 of create: every decision and every config error, nothing made. */
export function planCreate(input: CreatePlanInput): CreatePlan {
  const id = checkId(input.id);
  const { host } = input;
  const { bundle, spec, rootfs } = loadBundle(resolve(input.bundle));
  refuseUnsupported(spec as Record<string, any>);
  if (spec.linux?.intelRdt) refuseIntelRdt(spec.linux.intelRdt, id, host.resctrlRoot);
  const consoleSocket = input.consoleSocket !== undefined ? resolve(input.consoleSocket) : undefined;
  const foreground = input.foreground ?? false;
  checkConsoleFlags(spec.process?.terminal === true, consoleSocket, !foreground);
  const namespaces = spec.linux?.namespaces ?? [];
  const newUser = namespaces.some((n) => n.type === "user" && !n.path);
  checkRootless(spec, host.rootless, newUser);
  const idMaps = newUser ? planIdMaps(spec.linux!.uidMappings!, spec.linux!.gidMappings!, host.rootless?.nonRootEuid ? host.idMapFacts : undefined) : undefined;
  const cgroup = planCgroup(id, spec, input.systemdCgroup ?? false, host, newUser);
  // Not host root in the initial user namespace: mounts are made as in a user namespace (src/fs).
  const rootless = host.rootless !== undefined;
  const layers = resolveLayers(spec.tsrun, {
    bundle,
    stateDir: input.stateDir,
    newMountNs: namespaces.some((n) => n.type === "mount" && !n.path),
    ...(newUser && spec.linux?.uidMappings?.length && spec.linux.gidMappings?.length
      ? { newUserMaps: { uid: spec.linux.uidMappings, gid: spec.linux.gidMappings } }
      : {}),
    owner: host.rootless ? { uid: host.rootless.euid, gid: host.rootless.egid } : { uid: 0, gid: 0 },
    unprivileged: rootless || namespaces.some((n) => n.type === "user"),
    idmap: {
      ...(newUser && spec.linux?.uidMappings?.length && spec.linux.gidMappings?.length ? { maps: { uid: spec.linux.uidMappings, gid: spec.linux.gidMappings } } : {}),
      hostRoot: !rootless && (host.hostRoot ?? process.geteuid?.() === 0),
    },
  });
  const network = planContainerNetwork(spec, id, input.stateDir);
  const netDevices = planNetDevices(spec, { rootless, isHostNetns: host.isHostNetns, ...(host.netLinks ? { links: host.netLinks } : {}) });

  const preserveFds = input.preserveFds ?? 0;
  const launch = buildPlan({
    // The network's /etc files are bind mounts after the config's own.
    spec: network?.mounts.length ? { ...spec, mounts: [...(spec.mounts ?? []), ...network.mounts] } : spec,
    rootfs,
    bundle,
    fifoPath: input.fifoPath,
    noPivot: input.noPivot ?? false,
    preserveFds,
    foreground,
    consoleSocket,
    pidfdSocket: input.pidfdSocket,
    cgroupMounts: cgroup.mounts,
    cgroupJoin: cgroup.join,
    hostCaps: host.hostCaps,
    lastCap: host.lastCap,
    selinux: host.selinux,
    lsm: host.lsm,
    // Stage 0 opens bind sources in the container's mount namespace only as root (setns needs it).
    // Root of a user namespace (rootless podman) is not host root: it cannot open bind sources as host root.
    hostRoot: host.hostRoot ?? (host.rootless ? false : undefined),
    rootless,
    setgroupsDenied: idMaps?.setgroupsDenied ?? false,
    layers,
    sessionKeyring: input.noNewKeyring ? undefined : id,
    hostLimits: host.hostLimits,
    onlineCpus: host.onlineCpus,
    numaNodes: host.numaNodes,
    isHostNetns: host.isHostNetns,
    ...(host.compileSeccomp ? { compileSeccomp: host.compileSeccomp } : {}),
  });
  const encoded = encodePlan(launch.records);

  const hooks = Object.fromEntries(HOOK_KINDS.map((k) => [k, Object.freeze([...hooksOf(spec.hooks, k)])])) as unknown as HookPlan;
  const profile = spec.process ? spec.linux?.seccomp : undefined;
  return freezePlan({
    id,
    bundle,
    rootfs,
    ociVersion: spec.ociVersion,
    annotations: { ...((spec.annotations as Record<string, string> | undefined) ?? {}) },
    hasProcess: spec.process !== undefined,
    noNewKeyring: input.noNewKeyring ?? false,
    attachedTerminal: spec.process?.terminal === true && foreground,
    preserveFds,
    foreground,
    namespaces: launch.namespaces,
    ...(launch.namespaces.newUser
      ? {
          idMaps: idMaps!,
          idMappings: { uid: structuredClone(spec.linux!.uidMappings!), gid: structuredClone(spec.linux!.gidMappings!) },
        }
      : {}),
    cgroup,
    ...(layers ? { layers } : {}),
    ...(network ? { network } : {}),
    ...(netDevices ? { netDevices } : {}),
    hooks,
    ...(profile
      ? {
          seccomp: {
            summary: {
              defaultAction: profile.defaultAction,
              architectures: profile.architectures ?? [],
              rules: profile.syscalls?.length ?? 0,
              syscalls: (profile.syscalls ?? []).reduce((n, r) => n + r.names.length, 0),
              ...(profile.listenerPath ? { listenerPath: profile.listenerPath } : {}),
              flags: profile.flags ?? [],
              skipped: launch.seccompSkipped,
            },
            saved: JSON.stringify(profile),
          },
        }
      : {}),
    launch,
    encoded,
  });
}

/**
 * The cgroup part of the plan. Config errors of the device rules and resources (a bad rule, unified keys on
 * a v1 host, ...) are raised here; the writes are planned again against the cgroup as it is when applied.
 *
 * Rootless cgroups (host.rootless.cgroups, runc's RootlessCgroups): where the caller can make and join the
 * cgroup (a delegated subtree), everything is as for root except the device rules, which a caller without
 * host root cannot put in force (as runc, they are skipped). Where it cannot: a config that asks for no
 * resources (device rules aside: every manager's config has a deny-all rule) runs with no cgroup of its
 * own, in the caller's; one that asks for any is refused, naming the first field.
 */
function planCgroup(id: string, spec: Spec, systemd: boolean, host: CreateHostFacts, newUser: boolean): CgroupPlan {
  if (systemd) return planSystemdCgroup(id, spec, host, newUser);
  const rootless = host.rootless?.cgroups === true ? host.rootless : undefined;
  const named = spec.linux?.cgroupsPath !== undefined && spec.linux.cgroupsPath !== "";
  const path = cgroupPathFor(id, spec.linux?.cgroupsPath, rootless ? host.rootlessCgroupBase : undefined);
  const driver = host.cgroups(path);
  const resources = spec.linux?.resources;
  // Device rules' config errors first, then the resources' (as create has always said them).
  let planned = driver.planResources(resources ?? {}, { rules: resources?.devices, nodes: spec.linux?.devices });
  if (rootless) {
    const access = host.cgroupAccess?.(path) ?? { writable: true };
    if (!access.writable) {
      const blocked = `${access.blocked} is not writable by uid ${rootless.euid} (${access.why})`;
      const asked = planned.writes[0];
      if (asked) {
        throw new ConfigError(
          asked.field,
          `needs a cgroup of the container's own, and cgroup ${path} cannot be made: ${blocked}; ` +
            "limits need a cgroup v2 subtree delegated to you (a directory chowned to you with the files listed in /sys/kernel/cgroup/delegate, " +
            "or systemd's user@.service delegation), named in linux.cgroupsPath",
        );
      }
      return noCgroupPlan(host.cgroups(NO_CGROUP), planned.deviceRules, { reason: `rootless: ${blocked}`, wanted: path, named });
    }
    if (rootless.nonRootEuid || host.nestedUserNs) {
      planned = { ...planned, devices: ROOTLESS_DEVICES };
    }
  }
  return ownCgroupPlan(path, driver, planned, resources, newUser);
}

/** The plan of a cgroup of the container's own, once the driver has planned its writes. */
function ownCgroupPlan(path: string, driver: CgroupDriver, planned: DriverPlan, resources: LinuxResources | undefined, newUser: boolean, systemd?: SystemdDriverOptions): CgroupPlan {
  return {
    path,
    deviceRules: planned.deviceRules,
    ...(resources ? { resources: structuredClone(resources) } : {}),
    ...(resources?.pids?.limit === 0 ? { afterLaunch: { pids: { limit: 0 } } } : {}),
    planned,
    join: driver.joinPlan(newUser),
    mounts: driver.mounts(),
    ...(systemd ? { systemd } : {}),
  };
}

/** Device rules a caller without host root cannot put in force. */
const ROOTLESS_DEVICES: DriverPlan["devices"] = {
  kind: "skipped",
  reason: "rootless: device cgroup rules need host root (the devices controller, a device program); not applied, as runc",
};

/**
 * --systemd-cgroup: a transient scope named by linux.cgroupsPath ("slice:prefix:name"), started by
 * systemd around the init (the system's instance; rootless: the caller's own, whose delegated subtree
 * the scope is in). The limits are planned as on any cgroup v2 host, plus the unit's properties.
 */
function planSystemdCgroup(id: string, spec: Spec, host: CreateHostFacts, newUser: boolean): CgroupPlan {
  if (!host.systemd?.running) {
    throw new HostError("--systemd-cgroup: systemd is not running on this host (PID 1 is not systemd); use the cgroupfs driver (omit --systemd-cgroup)");
  }
  const user = host.rootless?.cgroups === true;
  const managerCgroup = host.systemd.userManagerCgroup;
  if (user && managerCgroup === undefined) {
    throw new HostError(
      `--systemd-cgroup as uid ${host.rootless!.euid}: no systemd user instance of yours was found (user@${host.rootless!.euid}.service, its bus at $XDG_RUNTIME_DIR/bus); ` +
        "log in through PAM or run `loginctl enable-linger`, or omit --systemd-cgroup",
    );
  }
  const unit = systemdUnitFor(id, spec.linux?.cgroupsPath, user);
  const path = systemdCgroupPath(unit, user ? managerCgroup : "");
  const options: SystemdDriverOptions = { unit, annotations: annotationProperties(spec.annotations), starts: true };
  const driver = host.cgroups(path, options);
  const resources = spec.linux?.resources;
  let planned = driver.planResources(resources ?? {}, { rules: resources?.devices, nodes: spec.linux?.devices });
  if (host.rootless?.nonRootEuid || host.nestedUserNs) {
    planned = { ...planned, devices: ROOTLESS_DEVICES };
  }
  return ownCgroupPlan(path, driver, planned, resources, newUser, options);
}

/**
 * What a caller that is not host root cannot have (runc's rootless validation): without host root
 * there are no ids to run the container as but the caller's own, mapped through a user namespace of
 * its own; and tsrun.network makes bridges and veths in the host's network namespace.
 */
function checkRootless(spec: Spec, rootless: Rootless | undefined, newUser: boolean): void {
  if (!rootless) return;
  if (rootless.nonRootEuid && !newUser) {
    throw new ConfigError(
      "/linux/namespaces",
      `running as uid ${rootless.euid} (rootless) needs a new user namespace: add {"type": "user"} with uidMappings and gidMappings mapping your ids (tsrun spec --rootless writes one)`,
    );
  }
  if (spec.tsrun?.network) {
    throw new ConfigError(
      "/tsrun/network",
      "bridge networking needs host root (it makes a bridge and veths in the host's network namespace): rootless containers can join a network namespace by path instead (slirp4netns, pasta)",
    );
  }
}

/**
 * No cgroup of its own: the init stays in the caller's cgroup; nothing is made, written, recorded or
 * joined. `rootDriver` is the driver of path "" (the hierarchy roots): a `cgroup` mount without a cgroup
 * namespace then shows the hierarchies from their roots, as runc binds the host's /sys/fs/cgroup for a
 * rootless container.
 */
function noCgroupPlan(rootDriver: CgroupDriver, deviceRules: DeviceRule[], none: NonNullable<CgroupPlan["none"]>): CgroupPlan {
  return {
    path: NO_CGROUP,
    none,
    deviceRules,
    planned: { dirs: [], enable: [], writes: [], warnings: [], deviceRules, devices: { kind: "skipped", reason: "no cgroup of its own: device cgroup rules are not applied" } },
    join: { cloneInto: "", selfTasks: [], parentJoins: [] },
    mounts: rootDriver.mounts(),
  };
}

/**
 * Freeze the plan and the parts phase 2 hands on (cgroup, hooks, network, layers, seccomp); the launch
 * records are encoded already, so only their list is frozen (freezing each record costs start-up time).
 */
function freezePlan(plan: CreatePlan): CreatePlan {
  const f = Object.freeze;
  f(plan.cgroup.deviceRules);
  f(plan.cgroup.planned.writes);
  f(plan.cgroup.planned);
  f(plan.cgroup.join);
  f(plan.cgroup);
  f(plan.hooks);
  if (plan.network) f(plan.network);
  if (plan.netDevices) f(plan.netDevices);
  if (plan.layers) f(plan.layers);
  if (plan.seccomp) f(plan.seccomp);
  if (plan.idMaps) {
    f(plan.idMaps.uid);
    f(plan.idMaps.gid);
    f(plan.idMaps);
  }
  f(plan.annotations);
  f(plan.launch.records);
  f(plan.launch);
  return f(plan);
}
