/** The states of runtime.md, plus "creating" while `create` is at work. */
export type Status = "creating" | "created" | "running" | "paused" | "stopped";

/** A fact, or how to look it up: a fact is only looked up when the status depends on it. */
type Fact = boolean | (() => boolean);

export interface StatusProbe {
  /** The recorded status in state.json. */
  recorded: Status;
  /** The init is alive and is the same process as recorded (pid + start time). */
  initAlive: Fact;
  /** The process that runs `create` is still alive (only meaningful while creating). */
  creatorAlive: Fact;
  /** exec.fifo still exists: `start` has not run yet. */
  fifoExists: Fact;
  /** The cgroup freezer reports the container frozen. */
  frozen: Fact;
}

const known = (f: Fact): boolean => (typeof f === "function" ? f() : f);

/**
 * The live status, derived from facts rather than trusted from the file. Pure, given facts; given
 * lookups, it makes only those the answer needs (`list` asks this for every container).
 */
export function deriveStatus(p: StatusProbe): Status {
  if (p.recorded === "creating") return known(p.creatorAlive) ? "creating" : "stopped";
  if (!known(p.initAlive)) return "stopped";
  if (known(p.frozen)) return "paused";
  return known(p.fifoExists) ? "created" : "running";
}
