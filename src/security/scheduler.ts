import { ConfigError } from "../errors.js";
import { Op, type PlanRecord } from "../launch/ops.js";

/** process.scheduler (config.md "Scheduler"): sched_setattr(2) of the container process. */
export interface SchedulerSpec {
  policy: string;
  nice?: number;
  priority?: number;
  flags?: string[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

/** SCHED_* from include/uapi/linux/sched.h. SCHED_ISO is in the spec but was never merged into Linux. */
export const SCHED_POLICIES: Record<string, number> = {
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
};

/** SCHED_FLAG_* from include/uapi/linux/sched.h. */
export const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08, SCHED_FLAG_KEEP_PARAMS: 0x10, SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};

/**
 * The SCHED_SETATTR record, after the checks runc makes (nice in -20..19; a priority only for the
 * realtime policies, 1..99 there; runtime/deadline/period only for SCHED_DEADLINE, where the kernel
 * needs runtime <= deadline <= period, period 0 meaning "= deadline").
 */
export function planScheduler(s: SchedulerSpec, field = "/process/scheduler"): PlanRecord {
  if (s.policy === "SCHED_ISO") throw new ConfigError(`${field}/policy`, "SCHED_ISO is not implemented by the Linux kernel");
  const policy = SCHED_POLICIES[s.policy];
  if (policy === undefined) throw new ConfigError(`${field}/policy`, `unknown policy "${s.policy}"`);
  const nice = s.nice ?? 0;
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new ConfigError(`${field}/nice`, `must be between -20 and 19, not ${nice}`);
  const realtime = s.policy === "SCHED_FIFO" || s.policy === "SCHED_RR";
  const priority = s.priority ?? 0;
  if (realtime && (priority < 1 || priority > 99)) {
    throw new ConfigError(`${field}/priority`, `${s.policy} needs a priority between 1 and 99, not ${priority}`);
  }
  if (!realtime && priority !== 0) throw new ConfigError(`${field}/priority`, `only SCHED_FIFO and SCHED_RR take a priority (policy is ${s.policy})`);
  let flags = 0;
  (s.flags ?? []).forEach((f, i) => {
    const bit = SCHED_FLAGS[f];
    if (bit === undefined) throw new ConfigError(`${field}/flags/${i}`, `unknown scheduler flag "${f}"`);
    flags |= bit;
  });
  const runtime = s.runtime ?? 0;
  const deadline = s.deadline ?? 0;
  const period = s.period ?? 0;
  if (s.policy === "SCHED_DEADLINE") {
    if (runtime <= 0 || deadline <= 0) throw new ConfigError(field, "SCHED_DEADLINE needs a runtime and a deadline (nanoseconds)");
    if (runtime > deadline) throw new ConfigError(`${field}/runtime`, `runtime ${runtime} is above deadline ${deadline}`);
    if (period !== 0 && deadline > period) throw new ConfigError(`${field}/deadline`, `deadline ${deadline} is above period ${period}`);
  } else {
    for (const [k, v] of [["runtime", runtime], ["deadline", deadline], ["period", period]] as const) {
      if (v !== 0) throw new ConfigError(`${field}/${k}`, `only SCHED_DEADLINE takes ${k} (policy is ${s.policy})`);
    }
  }
  return { op: Op.SCHED_SETATTR, ints: [policy, flags, nice, priority, BigInt(runtime), BigInt(deadline), BigInt(period)], strs: [field] };
}
