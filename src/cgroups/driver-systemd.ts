import { existsSync, readFileSync } from "node:fs";
import { SystemdError } from "../errors.js";
import { join } from "node:path";
import type { LinuxResources } from "../spec/types.js";
import type { ApplyOptions } from "./apply.js";
import type { ApplyDevicesOptions } from "./devices.js";
import type { DeviceRule } from "./devices-rules.js";
import type { CgroupJoinPlan, CgroupPlan, DeviceConfig } from "./driver-api.js";
import { V2Driver } from "./driver-v2.js";
import type { CgroupHierarchy } from "./hierarchy.js";
import type { SubCgroups } from "./sub-cgroup.js";
import { deviceProperties, type MajorNames, parseProcDevices } from "./systemd/device-properties.js";
import { JOB_TIMEOUT_MS, stopUnit, withSystemd } from "./systemd/session.js";
import { propertiesOfWrites, supportedBy, type UnitProperty } from "./systemd/properties.js";
import type { SystemdUnit } from "./systemd/unit-name.js";

export interface SystemdDriverOptions {
  unit: SystemdUnit;
  /** The config's org.systemd.property.* annotations (annotationProperties): passed at start. */
  annotations?: readonly UnitProperty[];
  /** create: the unit does not exist yet; it is started around the init's pid when the init joins. */
  starts?: boolean;
}

/**
 * The systemd cgroup driver: the container's cgroup is a transient scope systemd makes around the
 * init (StartTransientUnit with its pid, Delegate=yes), on cgroup v2. Limits go to the unit as the
 * properties systemd knows (so a daemon-reload or another unit's change never undoes them) and then
 * to the files, as runc does (what systemd has no property for, and the exact values). Device rules
 * are systemd's DevicePolicy/DeviceAllow plus tsrun's own eBPF program (the exact rule order).
 * Processes, freezing, stats and exec's join are the scope's cgroup files, as the v2 driver reads them.
 *
 * create's order stays the cgroupfs one (create, devices, resources, then join): while the unit is not
 * started those calls are kept, and join(pid) starts the unit with all of it, then writes the files,
 * before any container code runs (the init waits at its sync point).
 */
export class SystemdDriver extends V2Driver {
  private readonly unit: SystemdUnit;
  private readonly annotations: readonly UnitProperty[];
  private starting: boolean;
  private pendingDevices?: { rules: readonly DeviceRule[]; opts: ApplyDevicesOptions };
  private pendingResources?: { r: LinuxResources; opts: ApplyOptions };
  private majors?: MajorNames;

  constructor(path: string, hierarchies: readonly CgroupHierarchy[], opts: SystemdDriverOptions) {
    super(path, hierarchies, opts.unit.user === true);
    this.unit = opts.unit;
    this.annotations = opts.annotations ?? [];
    this.starting = opts.starts === true;
  }

  planResources(r: LinuxResources, devices?: DeviceConfig): CgroupPlan {
    const plan = super.planResources(r, devices);
    const properties = [...this.resourceProperties(r), ...this.deviceProperties(plan.deviceRules)];
    return { ...plan, dirs: [], unit: { ...this.unit, properties: [...this.baseProperties(0), ...properties, ...this.annotations] } };
  }

  /** create: systemd moves the init into the scope when it starts the unit (nothing to clone into);
   *  exec: a process joins the existing scope's cgroup as on any v2 host. */
  joinPlan(newUser: boolean, subs?: SubCgroups): CgroupJoinPlan {
    return this.starting ? { cloneInto: "", selfTasks: [], parentJoins: [] } : super.joinPlan(newUser, subs);
  }

  /** Nothing is made before the init exists: systemd makes the scope's cgroup with the unit. A unit
   *  whose cgroup is there already is refused now, before the init is started (systemd would refuse
   *  its start later: UnitExists). */
  create(): string[] {
    if (!this.starting) return super.create();
    const dir = this.dirOf();
    if (dir && existsSync(dir)) throw new SystemdError(this.unit.unit, `already exists (its cgroup ${this.path} is there): a container's unit is its own`);
    return [];
  }

  applyDevices(rules: readonly DeviceRule[], opts: ApplyDevicesOptions): void {
    if (this.starting) {
      this.pendingDevices = { rules, opts };
      return;
    }
    super.applyDevices(rules, opts);
  }

  /** Before the unit starts, kept for join; after (update), the unit's properties, then the files. A
   *  refused file puts the files back (restoreOnError) and the properties with them. */
  applyResources(r: LinuxResources, opts: ApplyOptions): void | Promise<void> {
    if (this.starting) {
      this.pendingResources = { r, opts };
      return;
    }
    return this.updateResources(r, opts);
  }

  private async updateResources(r: LinuxResources, opts: ApplyOptions): Promise<void> {
    const props = this.resourceProperties(r);
    const before = opts.restoreOnError ? this.currentProperties(props) : [];
    await withSystemd(this.unit, async (manager) => {
      const known = supportedBy(props, manager.version);
      if (known.length) await manager.setUnitProperties(this.unit.unit, true, known);
      try {
        super.applyResources(r, opts);
      } catch (e) {
        const back = supportedBy(before, manager.version);
        if (back.length) await manager.setUnitProperties(this.unit.unit, true, back).catch(() => {});
        throw e;
      }
    });
  }

  /** create's join: start the unit around the init, wait for systemd's job, then the files and devices. */
  async join(pid: number, dirs?: readonly string[]): Promise<void> {
    if (!this.starting) return super.join(pid, dirs);
    const resources = this.pendingResources?.r ?? {};
    const rules = this.pendingDevices?.rules;
    const props = [
      ...this.baseProperties(pid),
      ...this.resourceProperties(resources),
      ...(rules ? this.deviceProperties(rules) : []),
      ...this.annotations,
    ];
    await withSystemd(this.unit, (manager) => manager.startTransientUnit(this.unit.unit, supportedBy(props, manager.version), JOB_TIMEOUT_MS));
    this.starting = false;
    if (this.pendingDevices) super.applyDevices(this.pendingDevices.rules, this.pendingDevices.opts);
    if (this.pendingResources) super.applyResources(this.pendingResources.r, this.pendingResources.opts);
  }

  /** Stop the unit and wait until systemd has removed it (its cgroup goes with it); a unit already gone is
   *  fine. A failed create that never started its unit stops nothing: a unit of that name is not its own
   *  (the start that failed with UnitExists was refused because another container holds it). */
  async remove(created?: readonly string[]): Promise<void> {
    if (this.starting) return;
    await stopUnit(this.unit);
    super.remove(created);
  }

  /** What every container unit gets (as runc): its slice, delegation, accounting, no default dependencies. */
  private baseProperties(pid: number): UnitProperty[] {
    return [
      { name: "Description", type: "s", value: `tsrun container ${this.unit.unit}` },
      { name: "Slice", type: "s", value: this.unit.slice },
      ...(pid > 0 ? [{ name: "PIDs", type: "au", value: [pid] }] : []),
      { name: "Delegate", type: "b", value: true },
      { name: "MemoryAccounting", type: "b", value: true },
      { name: "CPUAccounting", type: "b", value: true },
      { name: "IOAccounting", type: "b", value: true },
      { name: "TasksAccounting", type: "b", value: true },
      { name: "DefaultDependencies", type: "b", value: false },
    ];
  }

  private resourceProperties(r: LinuxResources): UnitProperty[] {
    return propertiesOfWrites(this.writes(r).writes);
  }

  private deviceProperties(rules: readonly DeviceRule[]): UnitProperty[] {
    this.majors ??= parseProcDevices(readOrEmpty("/proc/devices"));
    return deviceProperties(rules, this.majors);
  }

  /** The properties `props` would change, with the values the scope's files have now. */
  private currentProperties(props: readonly UnitProperty[]): UnitProperty[] {
    const dir = this.dirOf();
    if (!dir || !props.length) return [];
    const files = ["memory.max", "memory.high", "memory.low", "memory.min", "memory.swap.max", "pids.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems"];
    const now = files.flatMap((file) => {
      const value = readOrEmpty(join(dir, file)).trim();
      return value ? [{ controller: file.split(".")[0], file, value, field: file }] : [];
    });
    const names = new Set(props.map((p) => p.name));
    return propertiesOfWrites(now).filter((p) => names.has(p.name));
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
