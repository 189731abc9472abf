/**
 * Starts tsrun-init with a launch plan and speaks its sync protocol (see src/init/sync.c):
 *
 *   tsrun-init -> us : "pid <n>"       host pid of the container init (stage 0, right after CLONE)
 *                      "sync <tag>"    the child waits; we run onSync(tag, pid), then answer "go"
 *                      "ready"         the container is built (only WAIT_FIFO, startContainer hooks, STARTED, EXEC are left)
 *                      "error <msg>"   a failure before ready; tsrun-init exits 1
 *   us -> tsrun-init : "data <n> <t>"  before "go": text for slot n, which later records read (e.g. the
 *                                      state JSON a hook gets on stdin); one line, so t has no newline
 *                      "go"            continue after a sync (closing the socket means: give up)
 *
 * Works on Node and on Bun (node: APIs only).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { constants as osConstants } from "node:os";
import type { Duplex, Writable } from "node:stream";

import { InitError } from "../errors.js";

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

/** Exit status of a child as a shell reports it: the code, or 128+N when killed by signal N. */
function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? osConstants.signals[signal] : undefined;
  return n !== undefined ? 128 + n : 255;
}

/** Start tsrun-init on `plan`; resolves once the container reported "ready". */
export function launchInit(opts: LaunchOptions): Promise<Launched> {
  const nPreserve = opts.preserveFds ?? 0;
  if (!Number.isInteger(nPreserve) || nPreserve < 0) throw new RangeError(`preserveFds: ${nPreserve}`);
  const planFd = 3 + nPreserve;
  const syncFd = planFd + 1;
  const stdio: ("inherit" | "pipe" | number)[] = ["inherit", "inherit", "inherit"];
  for (let i = 0; i < nPreserve; i++) stdio.push(3 + i);
  stdio.push("pipe", "pipe");

  return new Promise<Launched>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(opts.initPath, ["init", String(planFd), String(syncFd)], {
        stdio,
        env: opts.env ?? {},
      });
    } catch (e) {
      reject(new InitError(`cannot start ${opts.initPath}: ${(e as Error).message}`));
      return;
    }

    let stage0Done = false;
    let spawnError: Error | undefined;
    const exited = new Promise<number>((res) => {
      child.once("exit", (code, signal) => {
        stage0Done = true;
        res(statusOf(code, signal));
      });
      child.once("error", (err) => {
        // Spawning failed (no exit event follows), or a kill failed (the process is still there).
        if (child.pid === undefined || child.exitCode !== null) {
          spawnError = err;
          stage0Done = true;
          res(127);
        }
      });
    });

    const planStream = child.stdio[planFd] as Writable | null;
    const sync = child.stdio[syncFd] as Duplex | null;
    if (!planStream || !sync) {
      // Spawn failed before the pipes existed.
      void exited.then(() =>
        reject(new InitError(`cannot start ${opts.initPath}: ${spawnError?.message ?? "no stdio pipes"}`)),
      );
      return;
    }
    planStream.on("error", () => {}); // EPIPE when tsrun-init died early: reported through sync/exit
    sync.on("error", () => {}); // ECONNRESET and the like: treated as EOF ("close" follows)
    planStream.end(opts.plan);

    let pid: number | undefined;
    let settled = false;

    const closeStreams = () => {
      sync.destroy();
      planStream.destroy();
    };

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
          spawnError
            ? new InitError(`cannot start ${opts.initPath}: ${spawnError.message}`)
            : new InitError(`tsrun-init exited before the container was ready (status ${status})`),
        );
        return;
      }
      const sp = line.indexOf(" ");
      const word = sp < 0 ? line : line.slice(0, sp);
      const rest = sp < 0 ? "" : line.slice(sp + 1);
      if (word === "pid" && /^[1-9][0-9]*$/.test(rest)) {
        pid = Number(rest);
      } else if (word === "sync" && pid !== undefined) {
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
        const lines = (data ?? []).map((t, i) => (t === undefined ? "" : `data ${i} ${t}\n`)).join("");
        sync.write(`${lines}go\n`);
      } else if (word === "ready" && rest === "" && pid !== undefined) {
        settled = true;
        closeStreams(); // nothing more will come; do not keep the event loop alive
        // Detached, stage 0 exited right after "pid": resolve once it is reaped, so a caller that
        // exits at once (the CLI does) never leaves it a zombie of a PID 1 that does not reap.
        const launched = { pid, exited };
        if (opts.foreground) resolve(launched);
        else void exited.then(() => resolve(launched));
      } else if (word === "error") {
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
    sync.setEncoding("utf8");
    sync.on("data", (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        enqueue(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    let eof = false;
    const onEof = () => {
      if (eof) return;
      eof = true;
      enqueue(null);
    };
    sync.on("end", onEof);
    sync.on("close", onEof);
  });
}

/**
 * Wait (at most timeoutMs, -1 = forever) until process `pid` has exited, with a pidfd in tsrun-init.
 * True when it exited (or never existed), false on timeout.
 */
export function waitForExit(initPath: string, pid: number, timeoutMs: number): boolean {
  const r = spawnSync(initPath, ["wait", String(pid), String(Math.trunc(timeoutMs))], {
    stdio: ["ignore", "ignore", "pipe"],
    env: {},
  });
  if (r.status === 0) return true;
  if (r.status === 1) return false;
  const detail = r.error?.message ?? r.stderr?.toString().trim() ?? "";
  throw new InitError(detail || `tsrun-init wait ${pid} failed (status ${r.status ?? r.signal})`);
}

/**
 * Wait (at most timeoutMs) until `fd` (a pipe or fifo) has something to read or is hung up, or process
 * `pid` has exited, whichever comes first: tsrun-init polls both (fd as its stdin, a pidfd), so the
 * caller learns of either at once without a polling sleep.
 */
export function waitForInputOrExit(initPath: string, fd: number, pid: number, timeoutMs: number): "input" | "exited" | "timeout" {
  const r = spawnSync(initPath, ["wait-input", String(pid), String(Math.trunc(timeoutMs))], {
    stdio: [fd, "ignore", "pipe"],
    env: {},
  });
  if (r.status === 3) return "input";
  if (r.status === 0) return "exited";
  if (r.status === 1) return "timeout";
  const detail = r.error?.message ?? r.stderr?.toString().trim() ?? "";
  throw new InitError(detail || `tsrun-init wait-input ${pid} failed (status ${r.status ?? r.signal})`);
}
