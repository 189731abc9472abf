/** The states of runtime.md, plus "creating" while `create` is at work. */
export type Status = "creating" | "created" | "running" | "paused" | "stopped";

export interface StatusProbe {
  /** The recorded status in state.json. */
  recorded: Status;
  /** The init is alive and is the same process as recorded (pid + start time). */
  initAlive: boolean;
  /** The process that runs `create` is still alive (only meaningful while creating). */
  creatorAlive: boolean;
  /** exec.fifo still exists: `start` has not run yet. */
  fifoExists: boolean;
  /** The cgroup freezer reports the container frozen. */
  frozen: boolean;
}

/** The live status, derived from facts rather than trusted from the file. Pure. */
export function deriveStatus(p: StatusProbe): Status {
  if (p.recorded === "creating") return p.creatorAlive ? "creating" : "stopped";
  if (!p.initAlive) return "stopped";
  if (p.frozen) return "paused";
  return p.fifoExists ? "created" : "running";
}
