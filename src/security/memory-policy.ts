import { ConfigError } from "../errors.js";
import { Op, type PlanRecord } from "../launch/ops.js";
import type { LinuxMemoryPolicy } from "../spec/types.js";
import { cpusMissing, parseCpuList } from "./cpu-list.js";

/** MPOL_* modes of include/uapi/linux/mempolicy.h, by the names linux.memoryPolicy.mode uses. */
export const MEMORY_POLICY_MODES: Readonly<Record<string, number>> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};

/** MPOL_F_* mode flags (ORed into the mode). */
export const MEMORY_POLICY_FLAGS: Readonly<Record<string, number>> = {
  MPOL_F_NUMA_BALANCING: 1 << 13,
  MPOL_F_RELATIVE_NODES: 1 << 14,
  MPOL_F_STATIC_NODES: 1 << 15,
};

/** Modes that take no node (config-linux.md: nodes MUST be empty). */
const NO_NODES = new Set(["MPOL_DEFAULT", "MPOL_LOCAL"]);
/** Modes that need at least one node (MPOL_PREFERRED without one is local allocation). */
const NEEDS_NODES = new Set(["MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED_MANY"]);
/** The kernel's largest MAX_NUMNODES (1 << CONFIG_NODES_SHIFT, 10 at most): 16 mask words. */
const MAX_NODES = 1024;

/**
 * linux.memoryPolicy -> the MEMPOLICY record (set_mempolicy(2) in the container process before execve,
 * as runc does). `hostNodes`: the host's online NUMA nodes as a mask (/sys/devices/system/node/online);
 * undefined: the kernel has no NUMA support, and any policy is refused. A node the host lacks is refused
 * naming /linux/memoryPolicy/nodes, except with MPOL_F_RELATIVE_NODES, whose node numbers are positions
 * within the allowed set, not node ids.
 */
export function planMemoryPolicy(p: LinuxMemoryPolicy, hostNodes: readonly bigint[] | undefined, field = "/linux/memoryPolicy"): PlanRecord {
  const mode = MEMORY_POLICY_MODES[p.mode];
  if (mode === undefined) throw new ConfigError(`${field}/mode`, `unknown mode "${p.mode}"`);
  if (!hostNodes) throw new ConfigError(field, "this host has no NUMA memory policy support (no /sys/devices/system/node)");
  let flags = 0;
  (p.flags ?? []).forEach((f, i) => {
    const bit = MEMORY_POLICY_FLAGS[f];
    if (bit === undefined) throw new ConfigError(`${field}/flags/${i}`, `unknown flag "${f}"`);
    flags |= bit;
  });
  const both = MEMORY_POLICY_FLAGS.MPOL_F_STATIC_NODES | MEMORY_POLICY_FLAGS.MPOL_F_RELATIVE_NODES;
  if ((flags & both) === both) throw new ConfigError(`${field}/flags`, "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");

  const nodes = p.nodes?.trim() ?? "";
  if (nodes && NO_NODES.has(p.mode)) throw new ConfigError(`${field}/nodes`, `must be empty for ${p.mode}`);
  if (!nodes && NEEDS_NODES.has(p.mode)) throw new ConfigError(`${field}/nodes`, `${p.mode} needs at least one node`);
  if (!nodes) return { op: Op.MEMPOLICY, ints: [mode | flags], strs: [field] };

  const mask = parseCpuList(nodes, `${field}/nodes`);
  if (mask.length * 64 > MAX_NODES && mask.slice(MAX_NODES / 64).some((w) => w !== 0n)) {
    throw new ConfigError(`${field}/nodes`, `node numbers go up to ${MAX_NODES - 1}`);
  }
  const words = mask.slice(0, MAX_NODES / 64);
  if (!(flags & MEMORY_POLICY_FLAGS.MPOL_F_RELATIVE_NODES)) {
    const missing = cpusMissing(words, hostNodes);
    if (missing.length) throw new ConfigError(`${field}/nodes`, `NUMA node ${missing.join(", ")} not online on this host`);
  }
  return { op: Op.MEMPOLICY, ints: [mode | flags, ...words], strs: [field] };
}
