import { HostError } from "../errors.js";
import type { LinuxResources } from "../spec/types.js";
import type { ApplyOptions } from "./apply.js";
import { CgroupSet } from "./cgroupfs.js";
import type { ApplyDevicesOptions } from "./devices.js";
import { containerDeviceRules, type DeviceRule } from "./devices-rules.js";
import type { CgroupDriver, CgroupJoinPlan, CgroupPlan, DeviceConfig, DevicesPlan } from "./driver-api.js";
import { type Freezer, frozenOnArrival, isFrozen, setFrozen } from "./freezer.js";
import type { CgroupHierarchy } from "./hierarchy.js";
import { type CgroupMounts, cgroupMountsOf } from "./mounts.js";
import { containerPids } from "./procs.js";
import { writeCgroupKill } from "./cgroup-kill.js";
import type { CgroupWrite, ResourceWrites } from "./resource-writes.js";
import { type CgroupFiles, type Stats, cgroupFiles } from "./stats.js";
import type { SubCgroups } from "./sub-cgroup.js";

/**
 * What the cgroupfs drivers share: the container's cgroup is the same path in every mounted hierarchy
 * (CgroupSet), made, joined, listed and removed alike. What differs by cgroup version (which files
 * limit, freeze, guard devices and count) is left to V1Driver and V2Driver.
 */
export abstract class CgroupfsDriver implements CgroupDriver {
  protected readonly set: CgroupSet;
  private files?: CgroupFiles;

  constructor(readonly path: string, protected readonly hierarchies: readonly CgroupHierarchy[]) {
    this.set = new CgroupSet(path, [...hierarchies]);
  }

  /** The container's directory holding a controller's files (undefined: not mounted on this host). */
  protected abstract dirOf(controller: string): string | undefined;
  /** What applying a write of a controller this host lacks says (undefined: the controller is here). */
  protected abstract missingController(w: CgroupWrite): string | undefined;
  /** cgroup v2: the controllers create enables in the ancestors for these writes. */
  protected enabledFor(_writes: readonly CgroupWrite[]): string[] {
    return [];
  }
  /** The resource writes for `r`; pure. */
  protected abstract writes(r: LinuxResources): ResourceWrites;
  protected abstract devicesPlan(rules: readonly DeviceRule[]): DevicesPlan;
  protected abstract readonly freezer: Freezer | null;
  protected abstract readStats(files: CgroupFiles): Stats;
  protected abstract readOomKills(files: CgroupFiles): number;
  abstract applyResources(r: LinuxResources, opts: ApplyOptions): void;
  abstract applyDevices(rules: readonly DeviceRule[], opts: ApplyDevicesOptions): void;

  planResources(r: LinuxResources, devices: DeviceConfig = {}): CgroupPlan {
    // Device rules first: their config errors come before the resources' (as create has always said them).
    const deviceRules = containerDeviceRules(devices.rules, devices.nodes);
    const { writes, warnings } = this.writes(r);
    return {
      dirs: this.set.dirs(),
      enable: this.enabledFor(writes),
      writes: writes.map((w) => {
        const missing = this.missingController(w);
        return { ...w, dir: this.dirOf(w.controller), ...(missing !== undefined ? { missing } : {}) };
      }),
      warnings,
      deviceRules,
      devices: this.devicesPlan(deviceRules),
    };
  }

  joinPlan(newUser: boolean, subs?: SubCgroups): CgroupJoinPlan {
    return this.set.joinPlan(newUser, subs);
  }

  mounts(): CgroupMounts {
    return cgroupMountsOf(this.path, this.hierarchies);
  }

  frozenOnArrival(): string | null {
    return frozenOnArrival(this.path, this.hierarchies);
  }

  create(): string[] {
    return this.set.create();
  }

  join(pid: number, dirs?: readonly string[]): void {
    this.set.join(pid, dirs);
  }

  hasFreezer(): boolean {
    return this.freezer !== null;
  }

  isFrozen(): boolean {
    return isFrozen(this.freezer);
  }

  setFrozen(frozen: boolean, timeoutMs?: number): void {
    if (!this.freezer) throw new HostError(`cannot ${frozen ? "freeze" : "thaw"} cgroup ${this.path}: this host has no freezer cgroup`);
    setFrozen(this.freezer, frozen, timeoutMs);
  }

  pids(): number[] {
    return containerPids(this.path, this.hierarchies);
  }

  killAll(): boolean {
    return writeCgroupKill(this.path, this.hierarchies);
  }

  stats(): Stats {
    return this.readStats((this.files ??= cgroupFiles((c) => this.dirOf(c))));
  }

  oomKills(): number {
    return this.readOomKills((this.files ??= cgroupFiles((c) => this.dirOf(c))));
  }

  remove(created?: readonly string[]): void {
    this.set.remove(created);
  }
}
