import { ConfigError } from "../errors.js";
import type { LinuxResources } from "../spec/types.js";

/**
 * One write of a cgroup control file, as the pure resource writers (resources-v1.ts, resources-v2.ts)
 * plan them and apply.ts carries them out, in order.
 */
export interface CgroupWrite {
  /** The controller whose hierarchy (v1) or whose files (v2) hold `file`, e.g. "memory". */
  controller: string;
  file: string;
  value: string;
  /** JSON path of the config field this write comes from, for error messages. */
  field: string;
  /**
   * The host may lack this controller or file and that is fine (net_cls where it is not mounted, a
   * knob the kernel dropped): skip the write and give this warning ("" = skip silently).
   * Absent: a missing controller or file is an error naming `field`.
   */
  ifMissing?: string;
  /** What the host needs to have `file`, for the error when it lacks it (e.g. "Linux 5.15 or later"). */
  needs?: string;
  /** When `file` does not exist, write this instead (blkio.weight vs blkio.bfq.weight, io.bfq.weight vs io.weight). */
  fallback?: { file: string; value: string };
}

export interface ResourceWrites {
  writes: CgroupWrite[];
  warnings: string[];
}

/** Where `linux.resources` sits in config.json; `update` uses the same paths so errors read alike. */
export const RESOURCES_PATH = "/linux/resources";

/** What the writers may need to know of the cgroup as it is now (for update ordering only). */
export interface CurrentValues {
  /** v1 memory.limit_in_bytes now (a fresh cgroup: unlimited). */
  memoryLimit?: number;
  /** v1 cpu.cfs_period_us and cpu.cfs_quota_us now (-1: no quota). */
  cpuPeriod?: number;
  cpuQuota?: number;
}

/**
 * The memory+swap limit must not be below the memory limit (both runtimes refuse it: the kernel would
 * reject the v1 write, and the v2 conversion would be negative). -1 means unlimited.
 */
export function checkSwap(limit: number | undefined, swap: number | undefined, base: string): void {
  if (swap === undefined || swap === 0 || swap === -1) return;
  if (swap < -1) throw new ConfigError(`${base}/memory/swap`, `must be -1 (unlimited) or a number of bytes, not ${swap}`);
  if (limit === undefined || limit === 0 || limit === -1) return;
  if (swap < limit) throw new ConfigError(`${base}/memory/swap`, `memory+swap limit ${swap} must not be below the memory limit ${limit}`);
}

/** The kernels that have the CPU knobs of runtime-spec 1.1+ (both hierarchies have them). */
export const CPU_BURST_NEEDS = "Linux 5.14 or later with CFS bandwidth control";
export const CPU_IDLE_NEEDS = "Linux 5.15 or later with fair group scheduling";

/** cpu.idle takes 0 or 1 only (the kernel's EINVAL otherwise): refused here, naming the field. */
export function checkCpuIdle(idle: number | undefined | null, base: string): void {
  if (idle !== undefined && idle !== null && idle !== 0 && idle !== 1) {
    throw new ConfigError(`${base}/cpu/idle`, `must be 0 (the default) or 1 (SCHED_IDLE), not ${idle}`);
  }
}

/** "2MB" -> the page size as the kernel spells it in hugetlb file names ("2MB", "1GB", "64KB"). */
export function hugetlbSize(pageSize: string, field: string): string {
  const m = /^(\d+)([KMG])B$/i.exec(pageSize);
  if (!m) throw new ConfigError(field, `must be a page size such as 2MB or 1GB, not "${pageSize}"`);
  return `${Number(m[1])}${m[2].toUpperCase()}B`;
}

/** "maj:min" as the blkio/io files spell a device. */
export function devNo(d: { major: number; minor: number }): string {
  return `${d.major}:${d.minor}`;
}

/** rdma.max line for one device: only the limits given. */
export function rdmaLine(dev: string, r: { hcaHandles?: number; hcaObjects?: number }): string {
  const parts = [dev];
  if (r.hcaHandles !== undefined) parts.push(`hca_handle=${r.hcaHandles}`);
  if (r.hcaObjects !== undefined) parts.push(`hca_object=${r.hcaObjects}`);
  return parts.join(" ");
}

/**
 * pids.max for `pids.limit` as runtime-spec 1.3 reads it (and runc 1.4): 0 is a real limit of zero
 * tasks, a negative value (-1 in the spec) is "max", and an absent limit writes nothing (undefined).
 * runc 1.1 and crun turned 0 into "max"; 1.3 made that reading wrong.
 */
export function pidsMax(limit: number | undefined): string | undefined {
  if (limit === undefined || limit === null) return undefined;
  return limit >= 0 ? String(limit) : "max";
}

/** Sections the writers turn into files; `devices` is deliberately not here (see resources-v1.ts). */
export type WritableResources = Omit<LinuxResources, "devices">;
