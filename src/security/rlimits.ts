import { ConfigError } from "../errors.js";

/** RLIMIT_* numbers from include/uapi/asm-generic/resource.h (x86_64). */
export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

export function rlimitNumber(type: string, field: string): number {
  const n = RLIMITS[type];
  if (n === undefined) throw new ConfigError(field, `unknown rlimit "${type}"`);
  return n;
}

/** RLIM_INFINITY. */
export const RLIM_INFINITY = 0xffffffffffffffffn;

/** What bounds the hard limits a container may be given (read by `readHostLimits`). */
export interface HostLimits {
  /** tsrun's own hard limits, indexed by RLIMIT number. */
  hard: bigint[];
  /** tsrun has CAP_SYS_RESOURCE in its effective set: it may raise a hard limit. */
  canRaise: boolean;
  /** fs.nr_open: the kernel's ceiling for RLIMIT_NOFILE, even with CAP_SYS_RESOURCE. */
  nrOpen?: number;
}

/**
 * /proc/<pid>/limits -> hard limits by RLIMIT number. The kernel prints one row per resource in
 * RLIMIT order with fixed columns ("%-25s %-20s %-20s %-10s"), so the row index is the number.
 */
export function parseProcLimits(text: string): bigint[] {
  const rows = text.split("\n").slice(1).filter((l) => l.trim());
  return rows.map((row) => {
    const hard = row.slice(47, 67).trim();
    return hard === "unlimited" ? RLIM_INFINITY : BigInt(hard);
  });
}

/**
 * A hard limit tsrun could not set is refused here, before anything exists, with the rlimit and both
 * values (setrlimit would fail in the init with a bare EPERM). Raising a hard limit needs
 * CAP_SYS_RESOURCE in the initial user namespace, so a new user namespace does not help.
 */
export function checkHardLimit(type: string, n: number, hard: bigint, host: HostLimits | undefined, field: string): void {
  if (!host) return;
  const own = host.hard[n];
  if (!host.canRaise && own !== undefined && hard > own) {
    throw new ConfigError(field, `${type} hard limit ${show(hard)} is above tsrun's own hard limit ${show(own)} (raising it needs CAP_SYS_RESOURCE)`);
  }
  if (n === RLIMITS.RLIMIT_NOFILE && host.nrOpen !== undefined && hard > BigInt(host.nrOpen)) {
    throw new ConfigError(field, `${type} hard limit ${show(hard)} is above the kernel's fs.nr_open ${host.nrOpen}`);
  }
}

function show(v: bigint): string {
  return v === RLIM_INFINITY ? "unlimited" : String(v);
}
