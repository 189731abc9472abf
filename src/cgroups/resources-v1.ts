import { ConfigError } from "../errors.js";
import type { LinuxResources } from "../spec/types.js";
import {
  type CgroupWrite,
  type CurrentValues,
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
 * linux.resources -> the cgroup v1 file writes that apply them, in the order the kernel accepts.
 * Pure: the host is consulted only by apply.ts (which skips `ifMissing` writes and reports the rest).
 *
 * `resources.devices` is NOT handled here: the device cgroup (v1 devices.allow/deny, v2 eBPF) has its
 * own writer, called by its own step; this function ignores that section on purpose.
 */
export function v1Writes(r: LinuxResources, current: CurrentValues = {}, base = RESOURCES_PATH): ResourceWrites {
  const writes: CgroupWrite[] = [];
  const warnings: string[] = [];
  const w = (controller: string, file: string, value: string | number, field: string, extra: Partial<CgroupWrite> = {}) =>
    writes.push({ controller, file, value: String(value), field: `${base}${field}`, ...extra });

  if (r.unified && Object.keys(r.unified).length) {
    // runc's words ("invalid configuration: ..."), which suites match; then why, for a person.
    throw new ConfigError(`${base}/unified`, "invalid configuration: cannot use unified on cgroup v1 (this host's controllers are cgroup v1: use the v1 fields)");
  }

  // cpuset first: a later write (memory migration, tasks) must see the final CPUs and nodes.
  const cpu = r.cpu;
  if (cpu?.cpus) w("cpuset", "cpuset.cpus", cpu.cpus, "/cpu/cpus");
  if (cpu?.mems) w("cpuset", "cpuset.mems", cpu.mems, "/cpu/mems");

  const mem = r.memory;
  if (mem) {
    checkSwap(mem.limit, mem.swap, base);
    // As runc: an unlimited memory with swap unset means both unlimited (swap only where the host
    // accounts it: without memory.memsw.* there is no swap limit to lift).
    const impliedSwap = mem.limit === -1 && !mem.swap;
    const swap = impliedSwap ? -1 : mem.swap;
    const limit = mem.limit;
    const setLimit = () => limit && w("memory", "memory.limit_in_bytes", limit, "/memory/limit");
    const setSwap = () =>
      swap && w("memory", "memory.memsw.limit_in_bytes", swap, impliedSwap ? "/memory/limit" : "/memory/swap", impliedSwap ? { ifMissing: "" } : {});
    // The kernel keeps limit <= memsw at every step: raise memsw before the limit when it grows
    // past the current limit (or becomes unlimited), lower the limit before memsw otherwise.
    const now = current.memoryLimit ?? Number.MAX_SAFE_INTEGER;
    if (limit && swap && (swap === -1 || now < swap)) {
      setSwap();
      setLimit();
    } else {
      setLimit();
      setSwap();
    }
    if (mem.reservation) w("memory", "memory.soft_limit_in_bytes", mem.reservation, "/memory/reservation");
    if (mem.kernel !== undefined && mem.kernel !== 0) {
      warnings.push(`${base}/memory/kernel ignored: kernel memory limits are deprecated and no longer enforced by Linux (runc ignores them too)`);
    }
    if (mem.kernelTCP) {
      w("memory", "memory.kmem.tcp.limit_in_bytes", mem.kernelTCP, "/memory/kernelTCP", {
        ifMissing: `${base}/memory/kernelTCP ignored: this kernel has no memory.kmem.tcp.limit_in_bytes`,
      });
    }
    if (mem.swappiness !== undefined && mem.swappiness !== null) {
      if (mem.swappiness < 0 || mem.swappiness > 100) throw new ConfigError(`${base}/memory/swappiness`, `must be 0 to 100, not ${mem.swappiness}`);
      w("memory", "memory.swappiness", mem.swappiness, "/memory/swappiness");
    }
    if (mem.disableOOMKiller) w("memory", "memory.oom_control", 1, "/memory/disableOOMKiller");
    if (mem.useHierarchy !== undefined) w("memory", "memory.use_hierarchy", mem.useHierarchy ? 1 : 0, "/memory/useHierarchy");
  }

  if (cpu) {
    // Realtime: the period before the runtime (runtime <= period is checked against the new period).
    if (cpu.realtimePeriod) w("cpu", "cpu.rt_period_us", cpu.realtimePeriod, "/cpu/realtimePeriod");
    if (cpu.realtimeRuntime) w("cpu", "cpu.rt_runtime_us", cpu.realtimeRuntime, "/cpu/realtimeRuntime");
    if (cpu.shares) w("cpu", "cpu.shares", cpu.shares, "/cpu/shares");
    // The kernel checks quota/period against the parent's ratio at each write, so the order is the one
    // whose intermediate state is accepted: a growing period first (old quota / longer period is below
    // the old ratio), a shrinking one after the quota (new quota / old longer period is below the new
    // ratio). runc gets there by retrying the period after the quota. Burst last (burst <= quota).
    const period = () => cpu.period && w("cpu", "cpu.cfs_period_us", cpu.period, "/cpu/period");
    const quota = () => cpu.quota && w("cpu", "cpu.cfs_quota_us", cpu.quota, "/cpu/quota");
    const shrinking = cpu.period && current.cpuPeriod !== undefined && cpu.period < current.cpuPeriod && (current.cpuQuota ?? -1) > 0;
    if (shrinking) {
      quota();
      period();
    } else {
      period();
      quota();
    }
    // runc's v1 driver skips a burst the kernel has no file for (ENOENT); tsrun says so. cpu.idle fails.
    if (cpu.burst !== undefined && cpu.burst !== null) {
      w("cpu", "cpu.cfs_burst_us", cpu.burst, "/cpu/burst", { ifMissing: `${base}/cpu/burst ignored: this kernel has no cpu.cfs_burst_us (${CPU_BURST_NEEDS})` });
    }
    checkCpuIdle(cpu.idle, base);
    if (cpu.idle !== undefined && cpu.idle !== null) w("cpu", "cpu.idle", cpu.idle, "/cpu/idle", { needs: CPU_IDLE_NEEDS });
  }

  const pids = pidsMax(r.pids?.limit);
  if (pids !== undefined) w("pids", "pids.max", pids, "/pids/limit");

  const bio = r.blockIO;
  if (bio) {
    // blkio.weight is CFQ's; with BFQ (the only weighted scheduler since 5.0) it is blkio.bfq.weight.
    if (bio.weight) w("blkio", "blkio.weight", bio.weight, "/blockIO/weight", { fallback: { file: "blkio.bfq.weight", value: String(bio.weight) } });
    if (bio.leafWeight) w("blkio", "blkio.leaf_weight", bio.leafWeight, "/blockIO/leafWeight");
    bio.weightDevice?.forEach((d, i) => {
      if (d.weight) {
        const v = `${devNo(d)} ${d.weight}`;
        w("blkio", "blkio.weight_device", v, `/blockIO/weightDevice/${i}/weight`, { fallback: { file: "blkio.bfq.weight_device", value: v } });
      }
      if (d.leafWeight) w("blkio", "blkio.leaf_weight_device", `${devNo(d)} ${d.leafWeight}`, `/blockIO/weightDevice/${i}/leafWeight`);
    });
    const throttle = [
      ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
      ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
      ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
      ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
    ] as const;
    for (const [key, file] of throttle) {
      bio[key]?.forEach((d, i) => w("blkio", file, `${devNo(d)} ${d.rate}`, `/blockIO/${key}/${i}`));
    }
  }

  r.hugepageLimits?.forEach((h, i) => {
    const size = hugetlbSize(h.pageSize, `${base}/hugepageLimits/${i}/pageSize`);
    w("hugetlb", `hugetlb.${size}.limit_in_bytes`, h.limit, `/hugepageLimits/${i}`);
    // Reservations are limited too where the kernel has them (5.7+), so a reserved-but-unfaulted
    // mapping cannot slip past the limit; older kernels lack the file and that is fine.
    w("hugetlb", `hugetlb.${size}.rsvd.limit_in_bytes`, h.limit, `/hugepageLimits/${i}`, { ifMissing: "" });
  });

  const net = r.network;
  if (net) {
    // net_cls/net_prio are optional controllers that hosts often leave unmounted (as here): applied
    // where mounted, otherwise the container runs without them and says so.
    if (net.classID !== undefined) {
      w("net_cls", "net_cls.classid", net.classID, "/network/classID", { ifMissing: `${base}/network/classID ignored: the net_cls controller is not mounted on this host` });
    }
    net.priorities?.forEach((p, i) =>
      w("net_prio", "net_prio.ifpriomap", `${p.name} ${p.priority}`, `/network/priorities/${i}`, {
        ifMissing: `${base}/network/priorities/${i} ignored: the net_prio controller is not mounted on this host`,
      }),
    );
  }

  for (const [dev, lim] of Object.entries(r.rdma ?? {})) w("rdma", "rdma.max", rdmaLine(dev, lim), `/rdma/${dev.replace(/~/g, "~0").replace(/\//g, "~1")}`);

  return { writes, warnings };
}
