import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ContainerStateError, TsrunError, UsageError } from "../errors.js";
import type { NetworkRecord } from "../network/setup.js";
import type { Hooks } from "../spec/types.js";
import { isSameLiveProcess, readProcStat } from "./proc.js";
import { freezerFor, isFrozen } from "../cgroups/freezer.js";
import { type Status, deriveStatus } from "./status.js";

export const DEFAULT_ROOT = "/run/tsrun";

/** What tsrun keeps about one container in <root>/<id>/state.json. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations: Record<string, string>;
  status: Status;
  /** Host pid of the container init and its start time; 0 while creating. */
  pid: number;
  pidStartTime: number;
  /** The `create` process, so a create that died part-way is seen as stopped. */
  creatorPid: number;
  creatorStartTime: number;
  cgroupPath: string;
  /** Top-most cgroup directories this container's create made (removed on delete when empty). */
  cgroupCreated: string[];
  /** The config has a `process` (start refuses otherwise). */
  hasProcess: boolean;
  /** tsrun.network: what delete takes down (host veth ends, address leases, the bridge if asked). */
  network?: NetworkRecord;
  /** The hooks `start` and `delete` run (the bundle's config may change after create: runtime.md). */
  hooks?: Pick<Hooks, "poststart" | "poststop">;
  /** Created with --no-new-keyring: exec'd processes keep the caller's session keyring too. */
  noNewKeyring?: boolean;
}

const ID_RE = /^[A-Za-z0-9_+\-.]+$/;

export function checkId(id: string | undefined): string {
  if (!id) throw new UsageError("container id cannot be empty");
  if (!ID_RE.test(id) || id === "." || id === ".." || id.length > 1024) {
    throw new UsageError(`invalid container id "${id}": use letters, digits, and _ + - . only`);
  }
  return id;
}

export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  dir(id: string): string {
    return join(this.root, id);
  }
  fifoPath(id: string): string {
    return join(this.root, id, "exec.fifo");
  }

  /** Make <root>/<id> atomically: the one create that makes it owns the id. */
  claim(id: string): string {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const dir = this.dir(id);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new ContainerStateError(id, `container with id ${id} already exists`);
      throw new TsrunError(`cannot create state directory ${dir}: ${(e as Error).message}`);
    }
    return dir;
  }

  /** Write state.json atomically (write a temporary file, then rename over). */
  write(rec: ContainerRecord): void {
    const file = join(this.dir(rec.id), "state.json");
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(rec));
    renameSync(tmp, file);
  }

  /** The record of an existing container; `does not exist` otherwise (managers match that text). */
  read(id: string): ContainerRecord {
    checkId(id);
    let text: string;
    try {
      text = readFileSync(join(this.dir(id), "state.json"), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        // A create killed before its first write leaves only the directory: treat it as stopped.
        if (existsSync(this.dir(id))) return this.orphanRecord(id);
        throw new ContainerStateError(id, `container ${id} does not exist`);
      }
      throw e;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  private orphanRecord(id: string): ContainerRecord {
    return {
      ociVersion: "1.2.0", id, bundle: "", rootfs: "", created: new Date(0).toISOString(), owner: "root",
      annotations: {}, status: "creating", pid: 0, pidStartTime: 0, creatorPid: 0, creatorStartTime: 0,
      cgroupPath: "", cgroupCreated: [], hasProcess: false,
    };
  }

  /** The live status of a container (see status.ts). */
  status(rec: ContainerRecord): Status {
    const initAlive = rec.pid > 0 && isSameLiveProcess(rec.pid, rec.pidStartTime);
    return deriveStatus({
      recorded: rec.status,
      initAlive,
      creatorAlive: rec.creatorPid > 0 && isSameLiveProcess(rec.creatorPid, rec.creatorStartTime),
      fifoExists: existsSync(this.fifoPath(rec.id)),
      // From the kernel, not from a recorded flag: a pause or resume by anyone (another runtime
      // call, a manager writing freezer.state itself) is what the status shows.
      frozen: initAlive && isFrozen(freezerFor(rec.cgroupPath)),
    });
  }

  ids(): string[] {
    try {
      return readdirSync(this.root, { withFileTypes: true }).filter((d) => d.isDirectory() && ID_RE.test(d.name)).map((d) => d.name).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }

  /**
   * Take the container's lock (<root>/<id>/lock, made with O_EXCL, holding the holder's pid and start
   * time). A lock whose holder has died is taken over. Waits up to `timeoutMs` for a live holder.
   */
  lock(id: string, timeoutMs = 10_000): () => void {
    return lockFile(join(this.dir(id), "lock"), timeoutMs, {
      missing: () => new ContainerStateError(id, `container ${id} does not exist`),
      busy: () => new ContainerStateError(id, `container ${id} is locked by another tsrun process`),
    });
  }
}

/**
 * Take a lock file (made with link(2) of a filled-in file, so it appears atomically holding the
 * holder's pid and start time). A lock whose holder has died is taken over. Waits up to `timeoutMs`
 * for a live holder. Returns the unlock function.
 */
export function lockFile(file: string, timeoutMs: number, errors: { missing: () => Error; busy: () => Error }): () => void {
  const me = `${process.pid} ${readProcStat(process.pid)?.startTime ?? 0}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const tmp = `${file}.${process.pid}`;
      writeFileSync(tmp, me, { mode: 0o600 });
      try {
        linkSync(tmp, file);
      } finally {
        unlinkSync(tmp);
      }
      return () => {
        try {
          unlinkSync(file);
        } catch {
          // the directory was removed with the lock in it
        }
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw errors.missing();
      if (code !== "EEXIST") throw e;
    }
    if (lockIsStale(file)) {
      try {
        unlinkSync(file);
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (Date.now() > deadline) throw errors.busy();
    sleepMs(2);
  }
}

function lockIsStale(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false;
  }
  const [pid, start] = text.split(" ").map(Number);
  return !isSameLiveProcess(pid, start);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Block this thread for a few milliseconds (the CLI is synchronous; no event loop to yield to). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
