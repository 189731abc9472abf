import { join } from "node:path";
import type { LinuxResources } from "../spec/types.js";
import { type ApplyOptions, applyWrites, currentValuesV1, missingControllerMessage } from "./apply.js";
import { type ApplyDevicesOptions, applyDevicesBpf, applyDevicesV1 } from "./devices.js";
import { deviceProgram } from "./devices-bpf.js";
import type { DeviceRule } from "./devices-rules.js";
import { deviceTransitionV1 } from "./devices-v1.js";
import { CgroupfsDriver } from "./driver-base.js";
import type { DevicesPlan } from "./driver-api.js";
import { type Freezer, v1FreezerOf } from "./freezer.js";
import type { CgroupHierarchy } from "./hierarchy.js";
import { type CgroupWrite, type CurrentValues, type ResourceWrites, RESOURCES_PATH } from "./resource-writes.js";
import { v1Writes } from "./resources-v1.js";
import { type CgroupFiles, type Stats, oomKills, statsV1 } from "./stats.js";

/**
 * A legacy or hybrid host: limits, freezer, device rules and stats are the v1 controllers' (as runc
 * does). On a hybrid host the cgroup is made in the cgroup2 mount too (/sys/fs/cgroup/unified), the
 * init is cloned into it, and it counts for frozenOnArrival; a host without a v1 devices controller
 * but with that mount guards devices with an eBPF program there.
 */
export class V1Driver extends CgroupfsDriver {
  protected readonly freezer: Freezer | null;

  constructor(path: string, hierarchies: readonly CgroupHierarchy[]) {
    super(path, hierarchies);
    this.freezer = v1FreezerOf(path, hierarchies);
  }

  protected dirOf(controller: string): string | undefined {
    const h = this.hierarchies.find((x) => x.version === 1 && x.controllers.split(",").includes(controller));
    return h ? join(h.mountPoint, this.path) : undefined;
  }

  protected missingController(w: CgroupWrite): string | undefined {
    return this.dirOf(w.controller) === undefined ? missingControllerMessage(w) : undefined;
  }

  protected writes(r: LinuxResources, current: CurrentValues = {}): ResourceWrites {
    return v1Writes(r, current, RESOURCES_PATH);
  }

  applyResources(r: LinuxResources, opts: ApplyOptions): void {
    const { writes, warnings } = this.writes(r, currentValuesV1((c) => this.dirOf(c), r));
    for (const w of warnings) opts.warn(w);
    applyWrites((c) => this.dirOf(c), writes, opts);
  }

  /** The v1 devices controller; else (no such controller) the eBPF program on the cgroup2 mount, if any. */
  private devicesAt(): { kind: "v1" | "bpf"; dir: string } | undefined {
    const v1 = this.dirOf("devices");
    if (v1) return { kind: "v1", dir: v1 };
    const v2 = this.hierarchies.find((h) => h.version === 2);
    return v2 ? { kind: "bpf", dir: join(v2.mountPoint, this.path) } : undefined;
  }

  protected devicesPlan(rules: readonly DeviceRule[]): DevicesPlan {
    const at = this.devicesAt();
    if (!at) return { kind: "none" };
    return at.kind === "v1" ? { kind: "v1", dir: at.dir, writes: deviceTransitionV1(rules).writes } : { kind: "bpf", dir: at.dir, insns: deviceProgram(rules).length };
  }

  applyDevices(rules: readonly DeviceRule[], opts: ApplyDevicesOptions): void {
    const at = this.devicesAt();
    if (!at) return;
    if (at.kind === "bpf") applyDevicesBpf(rules, at.dir, opts);
    else applyDevicesV1(rules, at.dir, this.freezer, opts);
  }

  protected readStats(files: CgroupFiles): Stats {
    return statsV1(files);
  }

  protected readOomKills(files: CgroupFiles): number {
    return oomKills(files, 1);
  }
}
