import { ConfigError } from "../../errors.js";
import type { CgroupWrite } from "../resource-writes.js";
import { blkioToIoWeight } from "../resources-v2.js";

/** A unit property as StartTransientUnit and SetUnitProperties take it: its D-Bus signature and value. */
export interface UnitProperty {
  name: string;
  /** D-Bus type signature of the value: "t", "b", "s", "ay", "a(ss)", ... */
  type: string;
  value: unknown;
}

/** systemd's "no limit" for every uint64 property (CGROUP_LIMIT_MAX, USEC_INFINITY). */
export const UINT64_MAX = 2n ** 64n - 1n;

const MEMORY_FILES: Record<string, string> = {
  "memory.max": "MemoryMax",
  "memory.high": "MemoryHigh",
  "memory.low": "MemoryLow",
  "memory.min": "MemoryMin",
  "memory.swap.max": "MemorySwapMax",
};

/**
 * The unit properties systemd knows for the cgroup v2 writes planned from linux.resources (the same
 * writes the cgroupfs driver makes, so both read the config alike: shares to weight, swap, pids). As
 * runc, the files are written too once the unit is up; what has no property here (hugetlb, rdma,
 * per-device io limits, memory.oom.group, unknown unified keys) is left to those writes.
 */
export function propertiesOfWrites(writes: readonly CgroupWrite[]): UnitProperty[] {
  const props = new Map<string, UnitProperty>();
  const set = (name: string, type: string, value: unknown) => props.set(name, { name, type, value });
  for (const w of writes) {
    const v = w.value.trim();
    if (w.file in MEMORY_FILES) set(MEMORY_FILES[w.file], "t", limit(v, w.field));
    else if (w.file === "pids.max") set("TasksMax", "t", limit(v, w.field));
    else if (w.file === "cpu.weight") set("CPUWeight", "t", uint(v, w.field));
    else if (w.file === "cpu.max") cpuMax(v, w.field, set);
    else if (w.file === "cpuset.cpus") set("AllowedCPUs", "ay", cpuBits(v, w.field));
    else if (w.file === "cpuset.mems") set("AllowedMemoryNodes", "ay", cpuBits(v, w.field));
    else if (w.file === "io.bfq.weight" && /^\d+$/.test(v)) {
      // The BFQ range is the v1 one (blkio weight); IOWeight is io.weight's: the file's own fallback says the same.
      set("IOWeight", "t", BigInt(blkioToIoWeight(Number(v))));
    } else if (w.file === "io.weight" && /^default \d+$/.test(v)) set("IOWeight", "t", BigInt(v.split(" ")[1]));
  }
  return [...props.values()];
}

function uint(v: string, field: string): bigint {
  if (!/^\d+$/.test(v)) throw new ConfigError(field, `${JSON.stringify(v)} is not a whole number`);
  return BigInt(v);
}

function limit(v: string, field: string): bigint {
  return v === "max" ? UINT64_MAX : uint(v, field);
}

/**
 * cpu.max "quota period" as systemd's two properties. systemd keeps the quota as CPU time per second in
 * whole percent, so a quota that is not a multiple of 10 ms per second is rounded up (as runc does:
 * the container then gets at least what it asked, and may set its exact value in a child cgroup).
 */
function cpuMax(v: string, field: string, set: (name: string, type: string, value: unknown) => void): void {
  const [quota, period = "100000"] = v.split(/\s+/);
  const p = uint(period, field);
  set("CPUQuotaPeriodUSec", "t", p);
  if (quota === "max") {
    set("CPUQuotaPerSecUSec", "t", UINT64_MAX);
    return;
  }
  let perSec = (uint(quota, field) * 1_000_000n) / (p === 0n ? 100_000n : p);
  if (perSec % 10_000n !== 0n) perSec = (perSec / 10_000n + 1n) * 10_000n;
  set("CPUQuotaPerSecUSec", "t", perSec);
}

/** "0-2,5" -> the bitmask systemd's AllowedCPUs/AllowedMemoryNodes take, byte 0 holding CPUs 0-7. */
export function cpuBits(list: string, field: string): number[] {
  const bytes: number[] = [];
  for (const part of list.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new ConfigError(field, `${JSON.stringify(list)} is not a CPU or node list such as 0-2,5`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to > 65535) throw new ConfigError(field, `bad range ${part} in ${JSON.stringify(list)}`);
    for (let i = from; i <= to; i++) {
      while (bytes.length <= i >> 3) bytes.push(0);
      bytes[i >> 3] |= 1 << (i & 7);
    }
  }
  return bytes;
}

/** Properties newer than some systemd still in use, by the version that added them (runc's checks). */
const SINCE: Record<string, number> = { CPUQuotaPeriodUSec: 242, AllowedCPUs: 244, AllowedMemoryNodes: 244 };

/** `props` without those the running systemd (major `version`; 0: unknown) is too old for: their values
 *  still reach the cgroup files, which the driver writes after the unit's properties. */
export function supportedBy(props: readonly UnitProperty[], version: number): UnitProperty[] {
  return props.filter((p) => version === 0 || !(p.name in SINCE) || version >= SINCE[p.name]);
}
