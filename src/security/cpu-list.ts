import { ConfigError } from "../errors.js";

/** The highest CPU number a list may name: sched_setaffinity takes a mask of this many bits. */
export const MAX_CPUS = 8192;

/**
 * A cpu list as the kernel prints it ("0-3,7", as in cpuset.cpus and Cpus_allowed_list) -> the
 * affinity mask as 64-bit words, lowest CPU in bit 0 of the first word (the layout of cpu_set_t on
 * a 64-bit little-endian machine). Empty, reversed or malformed ranges are refused with `field`.
 */
export function parseCpuList(text: string, field: string): bigint[] {
  const words: bigint[] = [];
  const items = text.split(",").map((s) => s.trim());
  if (!text.trim()) throw new ConfigError(field, "empty cpu list");
  for (const item of items) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) throw new ConfigError(field, `bad cpu list "${text}": "${item}" is not N or N-M`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new ConfigError(field, `bad cpu list "${text}": range ${item} is reversed`);
    if (hi >= MAX_CPUS) throw new ConfigError(field, `bad cpu list "${text}": CPU ${hi} is above ${MAX_CPUS - 1}`);
    for (let cpu = lo; cpu <= hi; cpu++) {
      const w = cpu >> 6;
      while (words.length <= w) words.push(0n);
      words[w] |= 1n << BigInt(cpu & 63);
    }
  }
  return words;
}

/** The CPUs of a mask that are not online (`online` as in /sys/devices/system/cpu/online). */
export function cpusMissing(mask: readonly bigint[], online: readonly bigint[]): number[] {
  const out: number[] = [];
  mask.forEach((word, w) => {
    const missing = word & ~(online[w] ?? 0n);
    for (let b = 0; b < 64; b++) if ((missing >> BigInt(b)) & 1n) out.push(w * 64 + b);
  });
  return out;
}
