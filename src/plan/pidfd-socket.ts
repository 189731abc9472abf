import { resolve } from "node:path";
import { UsageError } from "../errors.js";
import { Op, type PlanRecord } from "../launch/ops.js";
import { SOCKET_PATH_MAX } from "./terminal.js";

/**
 * --pidfd-socket (create, run, exec; runc 1.2+): the container's process sends a pidfd of itself to the
 * manager listening there, so the manager can signal and wait for it with no pid-reuse race. runc's
 * message: one SCM_RIGHTS fd with the init type as data, "standard" from create's init and "setns" from
 * an exec'd process.
 */
export interface PidfdSocketPlan {
  /** For stage 0, before any SETNS (the path is the caller's). */
  stage0: PlanRecord[];
  /** For the child once the parent has answered its SYNC (in its cgroup, with its id maps), before the
   *  seccomp filter: pidfd_open and sendmsg are then never filtered. */
  child: PlanRecord[];
}

/** The data runc sends with the pidfd. */
export const PIDFD_PAYLOAD = { create: "standard", exec: "setns" } as const;

/** The flag's records (none without the flag); the path is resolved against the caller's cwd. Pure. */
export function planPidfdSocket(path: string | undefined, kind: keyof typeof PIDFD_PAYLOAD): PidfdSocketPlan {
  if (path === undefined) return { stage0: [], child: [] };
  if (path === "") throw new UsageError("--pidfd-socket: the path is empty");
  const abs = resolve(path);
  if (Buffer.byteLength(abs) > SOCKET_PATH_MAX) throw new UsageError(`--pidfd-socket ${abs}: path too long (at most ${SOCKET_PATH_MAX} bytes)`);
  return { stage0: [{ op: Op.PIDFD_SOCKET, strs: [abs] }], child: [{ op: Op.PIDFD_SEND, strs: [PIDFD_PAYLOAD[kind]] }] };
}
