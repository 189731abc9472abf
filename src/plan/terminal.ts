import { ConfigError, UsageError } from "../errors.js";
import { Op, type PlanRecord } from "../launch/ops.js";

/**
 * The terminal part of a launch plan (process.terminal), shared by create/run and exec.
 *
 * Where the pty master goes:
 * - `consoleSocket` (create, run -d, exec -d -t): to the manager listening there, in one SCM_RIGHTS
 *   message (conmon, the containerd shim);
 * - no socket, foreground (run, exec -t without -d): to stage 0, which relays the caller's own terminal.
 */
export interface TerminalInput {
  /** --console-socket, absolute (a host path: connected in stage 0, before any setns). */
  consoleSocket?: string;
  /** Stage 0 waits for the process (a CLONE with foreground=1). */
  foreground: boolean;
  /** process.consoleSize; applied when both are > 0. */
  consoleSize?: { height: number; width: number };
  /** process.user.uid: the slave is chowned to it (its group stays devpts's). */
  uid: number;
  /** Bind the slave on /dev/console: the container's init (create); not for exec (runc neither). */
  mountConsole: boolean;
  /** JSON path of the process object in error messages ("/process" for a config). */
  field?: string;
}

export interface TerminalPlan {
  /** For stage 0, FIRST of all (before any SETNS: the socket path is the caller's), before CLONE. */
  stage0: PlanRecord[];
  /** For the child, once it is in the container's mount namespace and root (after the pivot for
   *  create, after the setns for exec) and is a session leader (a SETSID before), and before SETUSER,
   *  capabilities and CLOEXEC_FROM: opens the pty, sends the master, makes the slave the controlling
   *  terminal and fds 0-2. */
  child: PlanRecord[];
}

/** The container's own devpts instance; its /dev/ptmx is a symlink to it. */
export const PTMX = "/dev/pts/ptmx";
/** The data sent with the master: runc sends the name of the file it opened, "/dev/ptmx". */
export const CONSOLE_PAYLOAD = "/dev/ptmx";
/** sizeof(sun_path) - 1. */
export const SOCKET_PATH_MAX = 107;

/**
 * runc's rules for the console socket, checked before anything is made. `detached`: create, run -d,
 * exec -d (the caller will not stay to relay a terminal).
 */
export function checkConsoleFlags(terminal: boolean, consoleSocket: string | undefined, detached: boolean): void {
  if (consoleSocket !== undefined) {
    if (!terminal) throw new UsageError("--console-socket given but no terminal was asked for (process.terminal is false, no exec --tty)");
    if (!detached) throw new UsageError("--console-socket is only for a detached process (create, run -d, exec -d); in the foreground the terminal is attached to the caller's");
    if (Buffer.byteLength(consoleSocket) > SOCKET_PATH_MAX) {
      throw new UsageError(`--console-socket ${consoleSocket}: path too long (at most ${SOCKET_PATH_MAX} bytes)`);
    }
  } else if (terminal && detached) {
    throw new UsageError("a terminal was asked for (process.terminal, exec --tty) but no --console-socket was given: a detached process needs one to hand its terminal to");
  }
}

/** The records that give the process a terminal. Pure. */
export function planTerminal(input: TerminalInput): TerminalPlan {
  checkConsoleFlags(true, input.consoleSocket, !input.foreground);
  const at = input.field ?? "/process";
  let rows = 0;
  let cols = 0;
  if (input.consoleSize) {
    rows = winsizeField(input.consoleSize.height, `${at}/consoleSize/height`);
    cols = winsizeField(input.consoleSize.width, `${at}/consoleSize/width`);
  }
  const stage0: PlanRecord[] = input.consoleSocket !== undefined ? [{ op: Op.CONSOLE_SOCKET, strs: [input.consoleSocket] }] : [{ op: Op.CONSOLE_PAIR }];
  const child: PlanRecord[] = [{ op: Op.PTY, ints: [rows, cols, input.uid, input.mountConsole ? 1 : 0], strs: [PTMX, CONSOLE_PAYLOAD] }];
  return { stage0, child };
}

/** struct winsize holds unsigned shorts. */
function winsizeField(v: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new ConfigError(field, `must be an integer from 0 to 65535, not ${v}`);
  return v;
}
