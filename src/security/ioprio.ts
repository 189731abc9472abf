import { ConfigError } from "../errors.js";
import { Op, type PlanRecord } from "../launch/ops.js";

/** IOPRIO_CLASS_* from include/uapi/linux/ioprio.h; the value is class << 13 | level. */
export const IOPRIO_CLASSES: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
export const IOPRIO_CLASS_SHIFT = 13;

/** process.ioPriority -> IOPRIO_SET (ioprio_set(IOPRIO_WHO_PROCESS, 0, value)). Levels are 0..7. */
export function planIoPriority(p: { class: string; priority?: number }, field = "/process/ioPriority"): PlanRecord {
  const cls = IOPRIO_CLASSES[p.class];
  if (cls === undefined) throw new ConfigError(`${field}/class`, `unknown class "${p.class}" (IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE)`);
  const level = p.priority ?? 0;
  if (!Number.isInteger(level) || level < 0 || level > 7) throw new ConfigError(`${field}/priority`, `must be between 0 and 7, not ${level}`);
  return { op: Op.IOPRIO_SET, ints: [(cls << IOPRIO_CLASS_SHIFT) | level], strs: [field] };
}
