import { TsrunError } from "../errors.js";

/** A failure made on purpose at a named step, so tests can prove that every step's failure is undone. */
export class InjectedFault extends TsrunError {}

/** Steps of `create` at which a test can make it fail (in this order). */
export const CREATE_STEPS = ["claim", "state", "cgroup", "resources", "layers", "network", "plan", "launch", "record", "pidfile"] as const;
export type CreateStep = (typeof CREATE_STEPS)[number];

export function faultAt(step: string, failAt: string | undefined): void {
  if (failAt === step) throw new InjectedFault(`injected failure after step "${step}"`);
}

/*
 * Crash injection (the reliability suite's "crash at any point"): `TSRUN_FAULT=<verb>:<point>` makes
 * the CLI SIGKILL itself at that point, `TSRUN_FAULT=kill-init:<verb>:<point>` SIGKILLs the container
 * init there instead. Honoured ONLY by bin/tsrun-faults, the test build (src/build/build.mjs compiles
 * it with TSRUN_FAULT_BUILD=true); bin/tsrun is built with it false, so the check and the
 * environment read are removed by the minifier and no environment can make a production binary kill
 * itself. The library (dist/, jest) never defines it either. Chosen over killing at increasing delays:
 * a named point is hit every time on any machine, so each case is deterministic and names what broke.
 */
declare const TSRUN_FAULT_BUILD: boolean | undefined;
const faultBuild = typeof TSRUN_FAULT_BUILD !== "undefined" && TSRUN_FAULT_BUILD === true;

/** Points where a test build can SIGKILL the CLI, per verb, in the order they are passed. */
export const CRASH_POINTS = {
  /** After each create step, and inside the init's sync (init in its cgroup; network attached). */
  create: ["claim", "state", "cgroup", "resources", "layers", "network", "plan", "sync-joined", "sync-attached", "launch", "record", "pidfile"],
  /** Lock taken; fifo opened; fifo removed (the init released); byte read, state not yet written. */
  start: ["locked", "fifo-open", "fifo-removed", "byte-read"],
  /** Lock taken; processes killed; network taken down; cgroup removed (state dir still there). */
  delete: ["locked", "killed", "network", "cgroup"],
  /** A foreground run: the process started (run waits for it); it exited, not yet deleted. */
  run: ["started", "exited"],
  /** Lock taken; the joining process waits at its sync, in the container's namespaces; the process runs
   *  (lock released, pid file not yet written). */
  exec: ["locked", "sync", "started"],
} as const;
/** Points where a test build can SIGKILL the container init while tsrun waits on it. */
export const INIT_KILL_POINTS = { create: ["sync-joined", "sync-attached"] } as const;

function faultSpec(): string | undefined {
  return faultBuild ? process.env.TSRUN_FAULT : undefined;
}

/** Test build only: SIGKILL this process when TSRUN_FAULT names this point. */
export function crashPoint(verb: string, point: string): void {
  if (faultBuild && faultSpec() === `${verb}:${point}`) process.kill(process.pid, "SIGKILL");
}

/** Test build only: SIGKILL the container init `pid` when TSRUN_FAULT names kill-init at this point. */
export function initKillPoint(verb: string, point: string, pid: number): void {
  if (faultBuild && faultSpec() === `kill-init:${verb}:${point}`) process.kill(pid, "SIGKILL");
}
