/**
 * Starts tsrun-init with a launch plan and speaks its sync protocol (src/launch/sync.ts):
 *
 *   tsrun-init -> us : "pid <n>"       host pid of the container init (stage 0, right after CLONE)
 *                      "sync <tag>"    the child waits; we run onSync(tag, pid), then answer "go"
 *                      "ready"         the container is built (only WAIT_FIFO, startContainer hooks, STARTED, EXEC are left)
 *                      "error <msg>"   a failure before ready; tsrun-init exits 1
 *   us -> tsrun-init : "data <n> <t>"  before "go": text for slot n, which later records read (e.g. the
 *                                      state JSON a hook gets on stdin); one line, so t has no newline
 *                      "go"            continue after a sync (closing the socket means: give up)
 *
 * Works on Node and on Bun (spawn.ts starts the process with whichever is running).
 */
import { InitError } from "../errors.js";
import { SYNC_MSG } from "../launch/sync.js";
import { runSync, spawnInit } from "./spawn.js";

export interface LaunchOptions {
  /** Absolute path of the tsrun-init executable. */
  initPath: string;
  /** Encoded plan (encodePlan). */
  plan: Buffer;
  /** fds 3..3+n-1 of this process are passed to tsrun-init at the same numbers. */
  preserveFds?: number;
  /** True when the plan's CLONE has foreground=1 (tsrun run without --detach). */
  foreground?: boolean;
  /** Environment for tsrun-init (default: empty). */
  env?: NodeJS.ProcessEnv;
  /** Called on each "sync <tag>"; a throw aborts: socket closed, child SIGKILLed, stage 0 reaped, rethrown.
   *  What it returns is sent as the sync data slots 0, 1, ... before "go" (see src/init/sync.c). */
  onSync?: (tag: string, pid: number) => Promise<SyncData | void> | SyncData | void;
}

/** Texts for the sync data slots, by slot number (one line each). */
export type SyncData = (string | undefined)[];

export interface Launched {
  /** Host pid of the container init (from "pid <n>"). */
  pid: number;
  /** Stage 0's exit status (foreground: the container's status, 128+N on signal N). */
  exited: Promise<number>;
}

/** Start tsrun-init on `plan`; resolves once the container reported "ready". */
export function launchInit(opts: LaunchOptions): Promise<Launched> {
  const nPreserve = opts.preserveFds ?? 0;
  if (!Number.isInteger(nPreserve) || nPreserve < 0) throw new RangeError(`preserveFds: ${nPreserve}`);
  const planFd = 3 + nPreserve;
  const syncFd = planFd + 1;

  return new Promise<Launched>((resolve, reject) => {
    const child = spawnInit(opts.initPath, {
      args: ["init", String(planFd), String(syncFd)],
      preserveFds: nPreserve,
      env: opts.env ?? {},
    });
    const { exited } = child;
    let stage0Done = false;
    void exited.then(() => {
      stage0Done = true;
    });
    child.sendPlan(opts.plan);

    let pid: number | undefined;
    let settled = false;

    const closeStreams = () => child.close();

    /** Fail: nothing may be left behind. Kill the child, reap stage 0, then reject. */
    const abort = async (makeErr: (status: number) => Error) => {
      if (settled) return;
      settled = true;
      closeStreams();
      // In foreground mode stage 0 only exits after reaping the child: once it is gone, so is the
      // child, and its pid must not be signalled (it could be reused).
      if (pid !== undefined && !(opts.foreground && stage0Done)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // ESRCH: already gone
        }
      }
      const status = await exited;
      reject(makeErr(status));
    };

    const handle = async (line: string | null) => {
      if (settled) return;
      if (line === null) {
        await abort((status) =>
          child.spawnError()
            ? new InitError(`cannot start ${opts.initPath}: ${child.spawnError()!.message}`)
            : new InitError(`tsrun-init exited before the container was ready (status ${status})`),
        );
        return;
      }
      const sp = line.indexOf(" ");
      const word = sp < 0 ? line : line.slice(0, sp);
      const rest = sp < 0 ? "" : line.slice(sp + 1);
      if (word === SYNC_MSG.PID && /^[1-9][0-9]*$/.test(rest)) {
        pid = Number(rest);
      } else if (word === SYNC_MSG.SYNC && pid !== undefined) {
        let data: SyncData | void;
        try {
          data = await opts.onSync?.(rest, pid);
          (data ?? []).forEach((t, i) => {
            if (t !== undefined && /[\n\r]/.test(t)) throw new InitError(`sync data for slot ${i} spans lines`);
          });
        } catch (err) {
          await abort(() => err as Error);
          return;
        }
        if (settled) return;
        const lines = (data ?? []).map((t, i) => (t === undefined ? "" : `${SYNC_MSG.DATA} ${i} ${t}\n`)).join("");
        child.write(`${lines}${SYNC_MSG.GO}\n`);
      } else if (word === SYNC_MSG.READY && rest === "" && pid !== undefined) {
        settled = true;
        closeStreams(); // nothing more will come; do not keep the event loop alive
        // Detached, stage 0 exited right after "pid": resolve once it is reaped, so a caller that
        // exits at once (the CLI does) never leaves it a zombie of a PID 1 that does not reap.
        const launched = { pid, exited };
        if (opts.foreground) resolve(launched);
        else void exited.then(() => resolve(launched));
      } else if (word === SYNC_MSG.ERROR) {
        await abort(() => new InitError(rest));
      } else {
        await abort(() => new InitError(`tsrun-init: unexpected message ${JSON.stringify(line)}`));
      }
    };

    // Lines are handled strictly in order, one at a time (an onSync may take a while).
    let chain: Promise<void> = Promise.resolve();
    const enqueue = (line: string | null) => {
      chain = chain.then(() => handle(line)).catch((err) => abort(() => err as Error));
    };
    let pending = "";
    child.readSync(
      (chunk) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          enqueue(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      },
      () => enqueue(null),
    );
  });
}

/**
 * Wait (at most timeoutMs, -1 = forever) until process `pid` has exited, with a pidfd in tsrun-init.
 * True when it exited (or never existed), false on timeout.
 */
export function waitForExit(initPath: string, pid: number, timeoutMs: number): boolean {
  const r = runSync(initPath, ["wait", String(pid), String(Math.trunc(timeoutMs))]);
  if (r.status === 0) return true;
  if (r.status === 1) return false;
  const detail = r.error?.message ?? r.stderr.trim();
  throw new InitError(detail || `tsrun-init wait ${pid} failed (status ${r.status ?? r.signal})`);
}

/**
 * Wait (at most timeoutMs) until `fd` (a pipe or fifo) has something to read or is hung up, or process
 * `pid` has exited, whichever comes first: tsrun-init polls both (fd as its stdin, a pidfd), so the
 * caller learns of either at once without a polling sleep.
 */
export function waitForInputOrExit(initPath: string, fd: number, pid: number, timeoutMs: number): "input" | "exited" | "timeout" {
  const r = runSync(initPath, ["wait-input", String(pid), String(Math.trunc(timeoutMs))], { stdin: fd });
  if (r.status === 3) return "input";
  if (r.status === 0) return "exited";
  if (r.status === 1) return "timeout";
  const detail = r.error?.message ?? r.stderr.trim();
  throw new InitError(detail || `tsrun-init wait-input ${pid} failed (status ${r.status ?? r.signal})`);
}
