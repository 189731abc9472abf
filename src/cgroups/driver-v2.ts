import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { LinuxResources } from "../spec/types.js";
import { delegatedBase } from "./access.js";
import { type ApplyOptions, applyWrites, controllersToEnable, enableControllers, missingFileMessage } from "./apply.js";
import { type ApplyDevicesOptions, applyDevicesBpf } from "./devices.js";
import { deviceProgram } from "./devices-bpf.js";
import type { DeviceRule } from "./devices-rules.js";
import { CgroupfsDriver } from "./driver-base.js";
import type { DevicesPlan } from "./driver-api.js";
import { type Freezer, v2FreezerOf } from "./freezer.js";
import type { CgroupHierarchy } from "./hierarchy.js";
import { type CgroupWrite, type ResourceWrites, RESOURCES_PATH } from "./resource-writes.js";
import { v2Writes } from "./resources-v2.js";
import { type CgroupFiles, type Stats, oomKills, statsV2 } from "./stats.js";

/**
 * A unified host: every controller's files are in the container's one cgroup2 directory; freezing is
 * cgroup.freeze, device rules an eBPF program, stats the v2 files.
 */
export class V2Driver extends CgroupfsDriver {
  protected readonly freezer: Freezer | null;
  /** The cgroup2 mount point (undefined: a host without any cgroup mount). */
  private readonly mount: string | undefined;
  /** Where controllers are offered and enabled from, inside the hierarchy: the root, or (rootless) the
   *  delegated directory; null: none of the way is the caller's, so nothing is enabled. Read once. */
  private base?: string | null;

  constructor(path: string, hierarchies: readonly CgroupHierarchy[], private readonly rootless = false) {
    super(path, hierarchies);
    this.freezer = v2FreezerOf(path, hierarchies);
    this.mount = hierarchies.find((h) => h.version === 2)?.mountPoint;
  }

  private enableFrom(): string | null {
    if (this.base === undefined) this.base = !this.rootless ? "/" : this.mount === undefined ? null : delegatedBase(this.mount, this.path);
    return this.base;
  }

  protected dirOf(): string | undefined {
    return this.mount !== undefined ? join(this.mount, this.path) : undefined;
  }

  protected missingController(w: CgroupWrite): string | undefined {
    const offered = this.offered();
    if (w.controller === "cgroup" || offered === undefined || offered.has(w.controller)) return undefined;
    const from = this.enableFrom();
    if (this.rootless && from !== null && from !== "/") {
      return `${w.field}: the ${w.controller} controller is not delegated to ${join(this.mount!, from)} (its cgroup.controllers: ${[...offered].join(" ") || "none"})`;
    }
    return missingFileMessage(w);
  }

  protected enabledFor(writes: readonly CgroupWrite[]): string[] {
    const offered = this.offered();
    return offered ? controllersToEnable(offered, writes) : [];
  }

  /** The controllers the cgroup2 root (rootless: the delegated directory) offers (cgroup.controllers);
   *  undefined when it cannot be read. */
  private offered(): Set<string> | undefined {
    const from = this.enableFrom();
    if (this.mount === undefined || from === null) return undefined;
    try {
      return new Set(readFileSync(join(this.mount, from, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean));
    } catch {
      return undefined;
    }
  }

  protected writes(r: LinuxResources): ResourceWrites {
    return v2Writes(r, RESOURCES_PATH);
  }

  applyResources(r: LinuxResources, opts: ApplyOptions): void {
    const { writes, warnings } = this.writes(r);
    for (const w of warnings) opts.warn(w);
    const from = this.enableFrom();
    if (this.mount !== undefined && from !== null) enableControllers(this.mount, this.path, writes, opts.warn, from);
    applyWrites(() => this.dirOf(), writes, opts);
  }

  protected devicesPlan(rules: readonly DeviceRule[]): DevicesPlan {
    const dir = this.dirOf();
    return dir ? { kind: "bpf", dir, insns: deviceProgram(rules).length } : { kind: "none" };
  }

  applyDevices(rules: readonly DeviceRule[], opts: ApplyDevicesOptions): void {
    const dir = this.dirOf();
    if (dir) applyDevicesBpf(rules, dir, opts);
  }

  protected readStats(files: CgroupFiles): Stats {
    return statsV2(files);
  }

  protected readOomKills(files: CgroupFiles): number {
    return oomKills(files, 2);
  }
}
