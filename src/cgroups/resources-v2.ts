import { ConfigError } from "../errors.js";
import type { LinuxResources } from "../spec/types.js";
import {
  type CgroupWrite,
  type ResourceWrites,
  CPU_BURST_NEEDS,
  CPU_IDLE_NEEDS,
  RESOURCES_PATH,
  checkCpuIdle,
  checkSwap,
  devNo,
  hugetlbSize,
  pidsMax,
  rdmaLine,
} from "./resource-writes.js";

/**
 * cpu.shares (v1, 2..262144, default 1024) -> cpu.weight (v2, 1..10000, default 100), with crun's
 * quadratic curve in log2 space: it maps the v1 default onto the v2 default (1024 -> 100) and the
 * ends onto the ends, where the older linear formula turned 1024 into 39. 0 means "not set".
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(10 ** exponent);
}

/** blkio weight (10..1000) -> io.weight (1..10000), linear as runc and crun do. 0 means "not set". */
export function blkioToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

/**
 * v1 memory.memsw (memory+swap) -> v2 memory.swap.max (swap alone), as runc converts it:
 * unset stays unset (undefined), -1 is "max", otherwise swap - limit (a limit is then required).
 */
export function swapToV2(limit: number | undefined, swap: number | undefined, field: string): string | undefined {
  // An unlimited memory with swap unset means both unlimited (v1 compatibility).
  if (limit === -1 && !swap) return "max";
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return "max";
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new ConfigError(field, "a swap limit needs a memory limit on cgroup v2 (memory.swap.max is swap alone: swap - limit)");
  }
  return String(swap - limit);
}

/** v2 "max" for -1 (unlimited), the number otherwise. */
const maxOr = (n: number): string => (n === -1 ? "max" : String(n));

/**
 * linux.resources -> cgroup v2 file writes of the container's cgroup, in order. Pure.
 * `resources.devices` is not handled here (v2 device rules are an eBPF program: another writer).
 * `unified` keys come last, so a raw key overrides the converted value of the same file.
 */
export function v2Writes(r: LinuxResources, base = RESOURCES_PATH): ResourceWrites {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  const w = (file: string, value: string | number, field: string, extra: Partial<CgroupWrite> = {}) =>
    writes.push({ controller: file.slice(0, file.indexOf(".")), file, value: String(value), field: `${base}${field}`, ...extra });
  const ignored = (field: string, why: string) => warnings.push(`${base}${field} ignored: ${why}`);

  const cpu = r.cpu;
  if (cpu?.cpus) w("cpuset.cpus", cpu.cpus, "/cpu/cpus");
  if (cpu?.mems) w("cpuset.mems", cpu.mems, "/cpu/mems");

  const mem = r.memory;
  if (mem) {
    checkSwap(mem.limit, mem.swap, base);
    // swap.max first: lowering memory.max never fails for want of swap, and swap.max is independent.
    const swap = swapToV2(mem.limit, mem.swap, `${base}/memory/swap`);
    if (swap !== undefined) w("memory.swap.max", swap, "/memory/swap");
    if (mem.limit) w("memory.max", maxOr(mem.limit), "/memory/limit");
    if (mem.reservation) w("memory.low", maxOr(mem.reservation), "/memory/reservation");
    if (mem.kernel) ignored("/memory/kernel", "cgroup v2 has no separate kernel memory limit (kernel memory counts in memory.max)");
    if (mem.kernelTCP) ignored("/memory/kernelTCP", "cgroup v2 has no separate TCP buffer limit (it counts in memory.max)");
    if (mem.swappiness !== undefined && mem.swappiness !== null) ignored("/memory/swappiness", "cgroup v2 has no per-cgroup swappiness");
    if (mem.disableOOMKiller) ignored("/memory/disableOOMKiller", "cgroup v2 cannot disable the OOM killer");
    if (mem.useHierarchy === false) ignored("/memory/useHierarchy", "cgroup v2 is always hierarchical");
  }

  if (cpu) {
    if (cpu.realtimeRuntime || cpu.realtimePeriod) {
      const field = cpu.realtimeRuntime ? "/cpu/realtimeRuntime" : "/cpu/realtimePeriod";
      throw new ConfigError(`${base}${field}`, "realtime CPU limits are not supported by cgroup v2");
    }
    if (cpu.shares) w("cpu.weight", sharesToWeight(cpu.shares), "/cpu/shares");
    if (cpu.quota || cpu.period) {
      // cpu.max is "QUOTA PERIOD"; a quota of -1 (or none) is "max". Period alone keeps the quota at max.
      const quota = cpu.quota && cpu.quota > 0 ? String(cpu.quota) : "max";
      w("cpu.max", cpu.period ? `${quota} ${cpu.period}` : quota, cpu.quota ? "/cpu/quota" : "/cpu/period");
    }
    // A kernel without either file fails the write, as runc's does (the limit asked is not there).
    if (cpu.burst !== undefined && cpu.burst !== null) w("cpu.max.burst", cpu.burst, "/cpu/burst", { needs: CPU_BURST_NEEDS });
    checkCpuIdle(cpu.idle, base);
    if (cpu.idle !== undefined && cpu.idle !== null) w("cpu.idle", cpu.idle, "/cpu/idle", { needs: CPU_IDLE_NEEDS });
  }

  const pids = pidsMax(r.pids?.limit);
  if (pids !== undefined) w("pids.max", pids, "/pids/limit");

  const bio = r.blockIO;
  if (bio) {
    // BFQ's io.bfq.weight takes the v1 range (1..1000) unchanged; io.weight (the io controller's
    // own, 1..10000) gets the converted value where BFQ is not there.
    if (bio.weight) {
      w("io.bfq.weight", bio.weight, "/blockIO/weight", { fallback: { file: "io.weight", value: `default ${blkioToIoWeight(bio.weight)}` } });
    }
    if (bio.leafWeight) ignored("/blockIO/leafWeight", "cgroup v2 has no leaf weight");
    bio.weightDevice?.forEach((d, i) => {
      if (d.weight) {
        w("io.bfq.weight", `${devNo(d)} ${d.weight}`, `/blockIO/weightDevice/${i}/weight`, {
          fallback: { file: "io.weight", value: `${devNo(d)} ${blkioToIoWeight(d.weight)}` },
        });
      }
      if (d.leafWeight) ignored(`/blockIO/weightDevice/${i}/leafWeight`, "cgroup v2 has no leaf weight");
    });
    const throttle = [
      ["throttleReadBpsDevice", "rbps"],
      ["throttleWriteBpsDevice", "wbps"],
      ["throttleReadIOPSDevice", "riops"],
      ["throttleWriteIOPSDevice", "wiops"],
    ] as const;
    for (const [key, name] of throttle) {
      // io.max takes one key per write and keeps the device's other keys: one write each.
      bio[key]?.forEach((d, i) => w("io.max", `${devNo(d)} ${name}=${d.rate === 0 ? "max" : d.rate}`, `/blockIO/${key}/${i}`));
    }
  }

  r.hugepageLimits?.forEach((h, i) => {
    const size = hugetlbSize(h.pageSize, `${base}/hugepageLimits/${i}/pageSize`);
    w(`hugetlb.${size}.max`, h.limit, `/hugepageLimits/${i}`);
    w(`hugetlb.${size}.rsvd.max`, h.limit, `/hugepageLimits/${i}`, { ifMissing: "" });
  });

  if (r.network?.classID !== undefined) ignored("/network/classID", "cgroup v2 has no net_cls controller (use eBPF or nftables cgroup matching)");
  r.network?.priorities?.forEach((_, i) => ignored(`/network/priorities/${i}`, "cgroup v2 has no net_prio controller"));

  for (const [dev, lim] of Object.entries(r.rdma ?? {})) w("rdma.max", rdmaLine(dev, lim), `/rdma/${dev.replace(/~/g, "~0").replace(/\//g, "~1")}`);

  for (const [key, value] of Object.entries(r.unified ?? {})) {
    const field = `${base}/unified/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    // A key is a file of the container's own cgroup: no path, and "controller.knob" shaped.
    if (!/^[a-z_]+\.[A-Za-z0-9_.]+$/.test(key)) throw new ConfigError(field, "must be a cgroup v2 file name such as memory.high");
    writes.push({ controller: key.slice(0, key.indexOf(".")), file: key, value, field });
  }

  return { writes, warnings };
}
