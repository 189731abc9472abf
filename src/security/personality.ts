import { ConfigError } from "../errors.js";
import { Op, type PlanRecord } from "../launch/ops.js";

/** PER_LINUX and PER_LINUX32 from include/uapi/linux/personality.h. */
export const PERSONALITY_DOMAINS: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };

/**
 * linux.personality -> PERSONALITY (personality(2) just before the exec fifo, as runc does). The spec
 * defines no flag values yet ("Currently no flag values are supported"), so any flag is refused.
 */
export function planPersonality(p: { domain: string; flags?: string[] }, field = "/linux/personality"): PlanRecord {
  const domain = PERSONALITY_DOMAINS[p.domain];
  if (domain === undefined) throw new ConfigError(`${field}/domain`, `unknown domain "${p.domain}" (LINUX or LINUX32)`);
  if (p.flags?.length) throw new ConfigError(`${field}/flags/0`, `unknown flag "${p.flags[0]}" (the spec defines none)`);
  return { op: Op.PERSONALITY, ints: [domain], strs: [field] };
}
