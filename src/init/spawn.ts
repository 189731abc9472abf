/**
 * Spawning what tsrun runs (tsrun-init, its waits, `ip`), with the runtime's own spawn where that is
 * cheaper.
 *
 * Under Bun (the CLI), node:child_process is a JavaScript layer that Bun loads and compiles on its first
 * call: the first `spawn()` of a process costs 3-5 ms there before any child exists, against 0.3 ms for
 * `Bun.spawn` (measured with compiled probes, bench/results/breakdown.md). Every create, run and exec
 * paid it once, and start and delete the same on their first `spawnSync`. So under Bun these go through
 * `Bun.spawn` / `Bun.spawnSync`; everywhere else (Node: the library, the tests) through
 * node:child_process. Nothing more is needed than this: no process library (execa's imports alone,
 * hoisted into the single-file CLI, cost every verb 0.3 ms). Both paths give the same child: the same
 * argv, an empty environment unless given, stdio 0-2 and the preserved fds as asked, and the extra
 * channels at the same fd numbers.
 */
import type { ChildProcess } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import type { Duplex, Writable } from "node:stream";

/** A started tsrun-init with its two channels: the plan (write, then EOF) and the sync socket (both ways). */
export interface InitChild {
  /** Undefined when the program could not be started: `exited` then resolves to 127 and `spawnError()` says why. */
  readonly pid: number | undefined;
  /** The exit status, as a shell reports it (128+N when killed by signal N), once the process is reaped. */
  readonly exited: Promise<number>;
  spawnError(): Error | undefined;
  /** Write the whole plan and close the plan channel. A child that died early is reported by the sync channel. */
  sendPlan(plan: Buffer): void;
  /** Text read from the sync channel, chunk by chunk, then `onEnd` once (EOF or a read error). */
  readSync(onChunk: (text: string) => void, onEnd: () => void): void;
  /** Send text on the sync channel (a dead child's EPIPE is ignored: its EOF is what reports it). */
  write(text: string): void;
  /** Close both channels; idempotent. Stops the reading without another `onEnd`. */
  close(): void;
}

export interface InitSpawnOptions {
  args: string[];
  /** fds 3..3+n-1 of this process, passed at the same numbers. */
  preserveFds: number;
  env: Record<string, string | undefined>;
}

/**
 * node:child_process, loaded on first use: its module costs 0.5 ms to load under Bun, where tsrun's own
 * spawning goes through Bun's API and most calls never need it (hooks, ps, the v2 device filter do).
 */
export function childProcess(): typeof import("node:child_process") {
  return process.getBuiltinModule("node:child_process");
}

/** Exit status of a child as a shell reports it: the code, or 128+N when killed by signal N. */
export function shellStatus(code: number | null | undefined, signal: string | null | undefined): number {
  if (code !== null && code !== undefined) return code;
  // node:os only here (start and delete would otherwise load it for this one lookup).
  const n = signal ? (process.getBuiltinModule("node:os").constants.signals as Record<string, number>)[signal] : undefined;
  return n !== undefined ? 128 + n : 255;
}

/** Start `file` with the plan channel at fd 3+preserveFds and the sync socket right after it. */
export function spawnInit(file: string, opts: InitSpawnOptions): InitChild {
  const bun = bunRuntime();
  return bun ? spawnWithBun(bun, file, opts) : spawnWithNode(file, opts);
}

/** What a synchronous run of a helper came to. */
export interface SyncRun {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The program could not be run at all. */
  error?: Error;
}

export interface RunOptions {
  /** stdin: an fd of ours, nothing, or this text. */
  stdin?: number | "ignore";
  input?: string;
  /** Capture stdout (else it is discarded). */
  stdout?: boolean;
}

/** Run `file args` to its end with an empty environment; stderr is captured, stdout when asked. */
export function runSync(file: string, args: string[], opts: RunOptions = {}): SyncRun {
  const out = opts.stdout ? "pipe" : "ignore";
  const bun = bunRuntime();
  if (bun) {
    const stdin = opts.input !== undefined ? Buffer.from(opts.input) : (opts.stdin ?? "ignore");
    try {
      const r = bun.spawnSync([file, ...args], { stdio: [stdin, out, "pipe"], env: {} });
      return { status: r.exitCode, signal: r.signalCode ?? null, stdout: r.stdout?.toString() ?? "", stderr: r.stderr?.toString() ?? "" };
    } catch (e) {
      return { status: null, signal: null, stdout: "", stderr: "", error: e as Error };
    }
  }
  const stdin = opts.input !== undefined ? "pipe" : (opts.stdin ?? "ignore");
  const r = childProcess().spawnSync(file, args, { stdio: [stdin, out, "pipe"], env: {}, input: opts.input, encoding: "utf8" });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

// --- Bun ----------------------------------------------------------------------------------------

/** The part of Bun's API used here (typed locally: the library does not depend on Bun's types). */
interface BunSubprocess {
  pid: number;
  exited: Promise<number | null>;
  exitCode: number | null;
  signalCode: string | null;
  stdio: (number | null | undefined)[];
}
type BunStdio = "inherit" | "ignore" | "pipe" | number | Uint8Array;
interface BunRuntime {
  spawn(cmd: string[], opts: { stdio: BunStdio[]; env: Record<string, string | undefined> }): BunSubprocess;
  spawnSync(cmd: string[], opts: { stdio: BunStdio[]; env: Record<string, string | undefined> }): {
    exitCode: number | null;
    signalCode?: string | null;
    stdout?: Uint8Array | null;
    stderr?: Uint8Array | null;
  };
  file(fd: number): { stream(): ReadableStream<Uint8Array> };
}

function bunRuntime(): BunRuntime | undefined {
  const b = (globalThis as { Bun?: BunRuntime }).Bun;
  return typeof b?.spawn === "function" ? b : undefined;
}

function failedChild(error: Error): InitChild {
  return {
    pid: undefined,
    exited: Promise.resolve(127),
    spawnError: () => error,
    sendPlan() {},
    readSync(_onChunk, onEnd) {
      queueMicrotask(onEnd);
    },
    write() {},
    close() {},
  };
}

function spawnWithBun(bun: BunRuntime, file: string, opts: InitSpawnOptions): InitChild {
  const stdio: BunStdio[] = ["inherit", "inherit", "inherit"];
  for (let i = 0; i < opts.preserveFds; i++) stdio.push(3 + i);
  const planIndex = stdio.length;
  stdio.push("pipe", "pipe"); // socketpairs; our ends are ours to close (Bun does not)
  let proc: BunSubprocess;
  try {
    proc = bun.spawn([file, ...opts.args], { stdio, env: opts.env });
  } catch (e) {
    return failedChild(e as Error);
  }
  const planFd = proc.stdio[planIndex] as number;
  const syncFd = proc.stdio[planIndex + 1] as number;
  let planOpen = true;
  let syncOpen = true;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const closePlan = () => {
    if (!planOpen) return;
    planOpen = false;
    closeSync(planFd);
  };
  return {
    pid: proc.pid,
    exited: proc.exited.then(() => shellStatus(proc.exitCode, proc.signalCode)),
    spawnError: () => undefined,
    sendPlan(plan) {
      // Our end is non-blocking; a plan bigger than the socket buffer waits for the child to read.
      void (async () => {
        let off = 0;
        while (planOpen && off < plan.length) {
          try {
            off += writeSync(planFd, plan, off);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EAGAIN") break;
            await new Promise((r) => setTimeout(r, 1));
          }
        }
        closePlan();
      })();
    },
    readSync(onChunk, onEnd) {
      const r = bun.file(syncFd).stream().getReader();
      reader = r;
      const decoder = new TextDecoder();
      void (async () => {
        try {
          for (;;) {
            const { value, done } = await r.read();
            if (done || reader !== r) break;
            onChunk(decoder.decode(value, { stream: true }));
          }
        } catch {
          // a read error ends the channel like EOF
        }
        if (reader === r) onEnd();
      })();
    },
    write(text) {
      if (!syncOpen) return;
      try {
        writeSync(syncFd, text);
      } catch {
        // EPIPE: the child is gone; its EOF reports it
      }
    },
    close() {
      closePlan();
      if (!syncOpen) return;
      syncOpen = false;
      const r = reader;
      reader = undefined;
      void r?.cancel().catch(() => {});
      closeSync(syncFd);
    },
  };
}

// --- node:child_process ---------------------------------------------------------------------------

function spawnWithNode(file: string, opts: InitSpawnOptions): InitChild {
  const stdio: ("inherit" | "pipe" | number)[] = ["inherit", "inherit", "inherit"];
  for (let i = 0; i < opts.preserveFds; i++) stdio.push(3 + i);
  const planIndex = stdio.length;
  stdio.push("pipe", "pipe");
  let child: ChildProcess;
  try {
    child = childProcess().spawn(file, opts.args, { stdio, env: opts.env });
  } catch (e) {
    return failedChild(e as Error);
  }
  let spawnError: Error | undefined;
  const exited = new Promise<number>((res) => {
    child.once("exit", (code, signal) => res(shellStatus(code, signal)));
    child.once("error", (err) => {
      // Spawning failed (no exit event follows), or a kill failed (the process is still there).
      if (child.pid === undefined || child.exitCode !== null) {
        spawnError = err;
        res(127);
      }
    });
  });
  const planStream = child.stdio[planIndex] as Writable | null;
  const sync = child.stdio[planIndex + 1] as Duplex | null;
  if (!planStream || !sync) {
    // Spawn failed before the pipes existed; the error event says why.
    return { ...failedChild(new Error("no stdio pipes")), exited, spawnError: () => spawnError ?? new Error("no stdio pipes") };
  }
  planStream.on("error", () => {}); // EPIPE when tsrun-init died early: reported through sync/exit
  sync.on("error", () => {}); // ECONNRESET and the like: treated as EOF ("close" follows)
  let closed = false;
  return {
    pid: child.pid,
    exited,
    spawnError: () => spawnError,
    sendPlan(plan) {
      planStream.end(plan);
    },
    readSync(onChunk, onEnd) {
      sync.setEncoding("utf8");
      sync.on("data", (chunk: string) => {
        if (!closed) onChunk(chunk);
      });
      let ended = false;
      const end = () => {
        if (ended || closed) return;
        ended = true;
        onEnd();
      };
      sync.on("end", end);
      sync.on("close", end);
    },
    write(text) {
      if (!closed) sync.write(text);
    },
    close() {
      closed = true;
      sync.destroy();
      planStream.destroy();
    },
  };
}
