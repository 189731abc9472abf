import { readFileSync } from "node:fs";

/** The capability bounding set of this process (what a container can be given at most). */
export function hostCapabilities(): bigint {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

export function lastCap(): number {
  try {
    return Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
  } catch {
    return 40;
  }
}
