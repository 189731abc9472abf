// The cgroup driver interface and the plain data it plans with. The implementations (driver-v1.ts,
// driver-v2.ts) import this file; callers get a driver from cgroupDriver() in driver.ts.
import type { LinuxDevice, LinuxDeviceCgroup, LinuxResources } from "../spec/types.js";
import type { ApplyOptions } from "./apply.js";
import type { ApplyDevicesOptions } from "./devices.js";
import type { DeviceRule } from "./devices-rules.js";
import type { DeviceWrite } from "./devices-v1.js";
import type { CgroupMounts } from "./mounts.js";
import type { CgroupWrite } from "./resource-writes.js";
import type { Stats } from "./stats.js";
import type { SubCgroups } from "./sub-cgroup.js";
import type { UnitProperty } from "./systemd/properties.js";
import type { SystemdUnit } from "./systemd/unit-name.js";

export type { ApplyOptions } from "./apply.js";
export type { ApplyDevicesOptions } from "./devices.js";
export type { CgroupMounts, CgroupFsMount } from "./mounts.js";

/**
 * How the init (or an exec'd process) gets into the cgroup: a v2 directory tsrun-init clones it into
 * (CLONE_INTO_CGROUP, "" for none), v1 `tasks` files it writes "0" to itself, and the directories
 * the parent moves its pid into instead (in a new user namespace, where it cannot).
 */
export interface CgroupJoinPlan {
  cloneInto: string;
  selfTasks: string[];
  parentJoins: string[];
}

/** One planned control-file write, with the container's directory it goes to (absent: not mounted
 *  here) and, when this host lacks its controller, what applying it says: the write's `ifMissing`
 *  warning where it is optional, else this error. */
export type PlannedWrite = CgroupWrite & { dir?: string; missing?: string };

/** How the container's device rules would be put in force on this host. */
export type DevicesPlan =
  /** The v1 devices controller: these lines written to a fresh cgroup's devices.deny/allow. */
  | { kind: "v1"; dir: string; writes: DeviceWrite[] }
  /** cgroup v2: an eBPF program of `insns` instructions attached to the directory. */
  | { kind: "bpf"; dir: string; insns: number }
  /** No hierarchy to guard devices with (nothing else is limited either). */
  | { kind: "none" }
  /** Not applied: the caller may not (rootless: the devices controller and device programs need host
   *  root, as runc skips them); `reason` says so in --debug and --dry-run. */
  | { kind: "skipped"; reason: string };

/** linux.resources.devices and linux.devices: what the device rules are made from. */
export interface DeviceConfig {
  rules?: readonly LinuxDeviceCgroup[];
  nodes?: readonly LinuxDevice[];
}

/** Everything create would do to the cgroup's files for a config: pure, what --dry-run prints. */
export interface CgroupPlan {
  /** The container's directory in each hierarchy: what create makes. */
  dirs: string[];
  /** cgroup v2: controllers turned on in the ancestors' cgroup.subtree_control first (where not on yet). */
  enable: string[];
  writes: PlannedWrite[];
  warnings: string[];
  /** The device rules (config, then runc's defaults), as create records them for update. */
  deviceRules: DeviceRule[];
  devices: DevicesPlan;
  /** The systemd driver: the transient unit create starts around the init, with every property it
   *  passes (the init's pid aside). Absent with the cgroupfs drivers. */
  unit?: SystemdUnit & { properties: UnitProperty[] };
}

/** A container cgroup's processes and freezer: what kill, delete, pause/resume, ps and `state` use.
 *  cgroupMembers() gives this part alone, without loading the rest of a driver. */
export interface CgroupMembers {
  /** The container's cgroup path inside each hierarchy (cgroupPathFor). */
  readonly path: string;
  /** The host can freeze this cgroup (pause, resume, kill --all, delete need it). */
  hasFreezer(): boolean;
  /** The kernel has it frozen (a missing cgroup, or a freeze still in progress, is not). */
  isFrozen(): boolean;
  /** Freeze or thaw and wait until the kernel says it is done (HostError after timeoutMs, or without a freezer). */
  setFrozen(frozen: boolean, timeoutMs?: number): void;
  /** Host pids of every process in the cgroup and its sub-cgroups, over every hierarchy; sorted. */
  pids(): number[];
  /** SIGKILL every process of the cgroup and its sub-cgroups at once through cgroup v2's cgroup.kill
   *  (cgroup-kill.ts); false where it cannot (no v2 hierarchy, a kernel before 5.14): signal pids() then. */
  killAll(): boolean;
  /** Remove the cgroup with its sub-cgroups, and the parents in `created` (create's result) when empty;
   *  the systemd driver stops the unit (a promise: await it). */
  remove(created?: readonly string[]): void | Promise<void>;
}

/**
 * One container's cgroup, whatever the host's cgroup setup: the only place that knows it. Verbs and
 * planners get a driver from cgroupDriver() and never ask which hierarchy they are on; a systemd or a
 * rootless delegated driver is another implementation of this.
 *
 * Pure (reads at most the host's mount table, probed once): planResources, joinPlan, mounts.
 * The rest reads or writes the cgroup filesystem.
 */
export interface CgroupDriver extends CgroupMembers {
  /** The writes and device rules create would make for `r`; every config error is raised here, naming its field. */
  planResources(r: LinuxResources, devices?: DeviceConfig): CgroupPlan;
  /** How a process joins the cgroup (`subs`: exec --cgroup sub-cgroups); `newUser`: it is in a new user namespace. */
  joinPlan(newUser: boolean, subs?: SubCgroups): CgroupJoinPlan;
  /** What the config's `cgroup`/`cgroup2` mounts show of this cgroup (data for the rootfs planner). */
  mounts(): CgroupMounts;

  /** What would freeze a process put into the cgroup (the file and what it says), or null; before create. */
  frozenOnArrival(): string | null;
  /** Make the cgroup; returns the top-most directory made in each hierarchy, for remove(). */
  create(): string[];
  /** Move a process in, in every hierarchy (or the given directories: joinPlan's parentJoins); the
   *  systemd driver's create starts the unit around it here (a promise: await it). */
  join(pid: number, dirs?: readonly string[]): void | Promise<void>;
  /** Write the resources (create; update with restoreOnError). Errors name the config field and file.
   *  The systemd driver's update sets the unit's properties too (a promise: await it). */
  applyResources(r: LinuxResources, opts: ApplyOptions): void | Promise<void>;
  /** Put device rules in force (create; update with `live`). */
  applyDevices(rules: readonly DeviceRule[], opts: ApplyDevicesOptions): void;

  /** runc's `events` stats of the cgroup. */
  stats(): Stats;
  /** The OOM-kill counter (events reports each increase as an oom event). */
  oomKills(): number;

}

