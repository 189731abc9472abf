import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseFlatKeyed } from "./freezer.js";

/**
 * The `data` of runc's `events` stats, with runc's JSON field names (tools parse them). Every number
 * is present, 0 when the host has no such counter: a missing field and a zero mean the same to a
 * reader, and fixed shapes keep consumers simple.
 */
export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}
export interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}
export interface Stats {
  cpu: {
    usage: { total: number; percpu: number[]; percpu_kernel?: number[]; percpu_user?: number[]; kernel: number; user: number };
    throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  };
  memory: { cache: number; usage: MemoryEntry; swap: MemoryEntry; kernel: MemoryEntry; kernelTCP: MemoryEntry; raw: Record<string, number> };
  pids: { current: number; limit: number };
  blkio: {
    ioServiceBytesRecursive: BlkioEntry[];
    ioServicedRecursive: BlkioEntry[];
    ioQueuedRecursive: BlkioEntry[];
    ioServiceTimeRecursive: BlkioEntry[];
    ioWaitTimeRecursive: BlkioEntry[];
    ioMergedRecursive: BlkioEntry[];
    ioTimeRecursive: BlkioEntry[];
    sectorsRecursive: BlkioEntry[];
  };
  hugetlb: Record<string, { usage: number; max: number; failcnt: number }>;
}

/** Reads one control file of a controller (null when absent) and lists a controller's files. */
export interface CgroupFiles {
  read(controller: string, file: string): string | null;
  list(controller: string): string[];
}

/** A single number file ("123\n"); "max" (no limit) is 0, as runc reports an unlimited v2 value. Pure. */
export function parseNumber(text: string | null): number {
  if (text === null) return 0;
  const t = text.trim();
  if (t === "max" || t === "") return 0;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

/** Space-separated numbers on one line (cpuacct.usage_percpu). Pure. */
export function parseNumberList(text: string | null): number[] {
  if (text === null) return [];
  return text.trim().split(/\s+/).filter(Boolean).map(Number).filter(Number.isFinite);
}

/** v1 blkio "MAJ:MIN Op value" lines; the trailing "Total N" line is dropped (runc drops it too). Pure. */
export function parseBlkioV1(text: string | null): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const f = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(f[0] ?? "");
    if (!dev) continue;
    // Files without an op column (blkio.sectors, blkio.time): "MAJ:MIN value".
    const [op, value] = f.length >= 3 ? [f[1], f[2]] : ["", f[1]];
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), op, value: Number(value) || 0 });
  }
  return out;
}

/** v2 io.stat "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." -> runc's Read/Write entries. Pure. */
export function parseIoStatV2(text: string | null): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    const [devText, ...pairs] = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(devText ?? "");
    if (!dev) continue;
    const major = Number(dev[1]);
    const minor = Number(dev[2]);
    const kv: Record<string, number> = {};
    for (const p of pairs) {
      const [k, v] = p.split("=");
      if (k && v !== undefined) kv[k] = Number(v) || 0;
    }
    for (const [key, op, list] of [["rbytes", "Read", bytes], ["wbytes", "Write", bytes], ["rios", "Read", ios], ["wios", "Write", ios]] as const) {
      if (key in kv) list.push({ major, minor, op, value: kv[key] });
    }
  }
  return { bytes, ios };
}

/** Hugepage sizes named by the control files ("hugetlb.2MB.limit_in_bytes" / "hugetlb.2MB.max"). Pure. */
export function hugepageSizes(files: readonly string[]): string[] {
  const sizes = new Set<string>();
  for (const f of files) {
    const m = /^hugetlb\.([0-9]+[KMGkmg]B)\.(limit_in_bytes|max)$/.exec(f);
    if (m) sizes.add(m[1]);
  }
  return [...sizes].sort();
}

function emptyEntry(): MemoryEntry {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

function emptyBlkio(): Stats["blkio"] {
  return {
    ioServiceBytesRecursive: [], ioServicedRecursive: [], ioQueuedRecursive: [], ioServiceTimeRecursive: [],
    ioWaitTimeRecursive: [], ioMergedRecursive: [], ioTimeRecursive: [], sectorsRecursive: [],
  };
}

/** USER_HZ: cpuacct.stat counts in ticks of 1/100 s on Linux; runc reports nanoseconds. */
const NS_PER_TICK = 10_000_000;

/** v1 stats from the per-controller files. Pure given `files`. */
export function statsV1(files: CgroupFiles): Stats {
  const r = (c: string, f: string) => files.read(c, f);
  const cpuacct = parseFlatKeyed(r("cpuacct", "cpuacct.stat") ?? "");
  const cpuStat = parseFlatKeyed(r("cpu", "cpu.stat") ?? "");
  const memStat = parseFlatKeyed(r("memory", "memory.stat") ?? "");
  const mem = (prefix: string): MemoryEntry => ({
    usage: parseNumber(r("memory", `${prefix}usage_in_bytes`)),
    limit: parseNumber(r("memory", `${prefix}limit_in_bytes`)),
    max: parseNumber(r("memory", `${prefix}max_usage_in_bytes`)),
    failcnt: parseNumber(r("memory", `${prefix}failcnt`)),
  });
  const percpuKernel = parseNumberList(r("cpuacct", "cpuacct.usage_percpu_sys"));
  const percpuUser = parseNumberList(r("cpuacct", "cpuacct.usage_percpu_user"));
  // The throttle files are the ones every v1 blkio has; the CFQ/BFQ-only files are absent on most kernels.
  const blk = (name: string) => parseBlkioV1(r("blkio", `blkio.throttle.${name}`) ?? r("blkio", `blkio.${name}`));
  const blkio = emptyBlkio();
  blkio.ioServiceBytesRecursive = blk("io_service_bytes_recursive");
  blkio.ioServicedRecursive = blk("io_serviced_recursive");
  const hugetlb: Stats["hugetlb"] = {};
  for (const size of hugepageSizes(files.list("hugetlb"))) {
    hugetlb[size] = {
      usage: parseNumber(r("hugetlb", `hugetlb.${size}.usage_in_bytes`)),
      max: parseNumber(r("hugetlb", `hugetlb.${size}.max_usage_in_bytes`)),
      failcnt: parseNumber(r("hugetlb", `hugetlb.${size}.failcnt`)),
    };
  }
  return {
    cpu: {
      usage: {
        total: parseNumber(r("cpuacct", "cpuacct.usage")),
        percpu: parseNumberList(r("cpuacct", "cpuacct.usage_percpu")),
        ...(percpuKernel.length ? { percpu_kernel: percpuKernel } : {}),
        ...(percpuUser.length ? { percpu_user: percpuUser } : {}),
        kernel: (cpuacct.system ?? 0) * NS_PER_TICK,
        user: (cpuacct.user ?? 0) * NS_PER_TICK,
      },
      throttling: { periods: cpuStat.nr_periods ?? 0, throttledPeriods: cpuStat.nr_throttled ?? 0, throttledTime: cpuStat.throttled_time ?? 0 },
    },
    memory: {
      // v1 memory.stat counts page cache as "cache" (total_cache includes sub-cgroups).
      cache: memStat.total_cache ?? memStat.cache ?? 0,
      usage: mem("memory."),
      swap: mem("memory.memsw."),
      kernel: mem("memory.kmem."),
      kernelTCP: mem("memory.kmem.tcp."),
      raw: memStat,
    },
    pids: { current: parseNumber(r("pids", "pids.current")), limit: parseNumber(r("pids", "pids.max")) },
    blkio,
    hugetlb,
  };
}

/** v2 stats from the one directory of the container (controller names are ignored). Pure given `files`. */
export function statsV2(files: CgroupFiles): Stats {
  const r = (f: string) => files.read("", f);
  const cpuStat = parseFlatKeyed(r("cpu.stat") ?? "");
  const memStat = parseFlatKeyed(r("memory.stat") ?? "");
  const memEvents = parseFlatKeyed(r("memory.events") ?? "");
  const io = parseIoStatV2(r("io.stat"));
  const blkio = emptyBlkio();
  blkio.ioServiceBytesRecursive = io.bytes;
  blkio.ioServicedRecursive = io.ios;
  const hugetlb: Stats["hugetlb"] = {};
  for (const size of hugepageSizes(files.list(""))) {
    hugetlb[size] = {
      usage: parseNumber(r(`hugetlb.${size}.current`)),
      // v2 keeps no peak for hugepages; the limit is the closest thing runc reports as max.
      max: parseNumber(r(`hugetlb.${size}.max`)),
      failcnt: parseFlatKeyed(r(`hugetlb.${size}.events`) ?? "").max ?? 0,
    };
  }
  return {
    cpu: {
      usage: {
        // v2 counts microseconds; runc's numbers are nanoseconds.
        total: (cpuStat.usage_usec ?? 0) * 1000,
        percpu: [],
        kernel: (cpuStat.system_usec ?? 0) * 1000,
        user: (cpuStat.user_usec ?? 0) * 1000,
      },
      throttling: { periods: cpuStat.nr_periods ?? 0, throttledPeriods: cpuStat.nr_throttled ?? 0, throttledTime: (cpuStat.throttled_usec ?? 0) * 1000 },
    },
    memory: {
      cache: memStat.file ?? 0,
      // failcnt: the number of times usage hit memory.max, which v2 counts as the "max" event.
      usage: { usage: parseNumber(r("memory.current")), limit: parseNumber(r("memory.max")), max: parseNumber(r("memory.peak")), failcnt: memEvents.max ?? 0 },
      swap: { usage: parseNumber(r("memory.swap.current")), limit: parseNumber(r("memory.swap.max")), max: parseNumber(r("memory.swap.peak")), failcnt: 0 },
      kernel: { ...emptyEntry(), usage: memStat.kernel ?? 0 },
      kernelTCP: { ...emptyEntry(), usage: memStat.sock ?? 0 },
      raw: memStat,
    },
    pids: { current: parseNumber(r("pids.current")), limit: parseNumber(r("pids.max")) },
    blkio,
    hugetlb,
  };
}

/** The OOM-kill counter: v1 memory.oom_control `oom_kill`, v2 memory.events `oom_kill`. Pure given `files`. */
export function oomKills(files: CgroupFiles, version: 1 | 2): number {
  const text = version === 1 ? files.read("memory", "memory.oom_control") : files.read("", "memory.events");
  return parseFlatKeyed(text ?? "").oom_kill ?? 0;
}

/** Control files read through `dirOf`: the container's directory holding a controller's files (null: none). */
export function cgroupFiles(dirOf: (controller: string) => string | undefined): CgroupFiles {
  return {
    read(controller, file) {
      const dir = dirOf(controller);
      if (!dir) return null;
      try {
        return readFileSync(join(dir, file), "utf8");
      } catch {
        return null;
      }
    },
    list(controller) {
      const dir = dirOf(controller);
      try {
        return dir ? readdirSync(dir) : [];
      } catch {
        return [];
      }
    },
  };
}
