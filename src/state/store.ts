import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ContainerStateError, TsrunError, UsageError } from "../errors.js";
import type { Hooks } from "../spec/types.js";
import { removeTree } from "../fs/remove-tree.js";
import { lockContainer } from "./lock.js";
import { DEFAULT_ROOT } from "./root.js";
import { isSameLiveProcess } from "./proc.js";
import { type Status, deriveStatus } from "./status.js";

export { DEFAULT_ROOT } from "./root.js";

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
  /** The systemd cgroup driver's unit (created with --systemd-cgroup): every verb drives the container's
   *  cgroup through it, with or without the flag. */
  systemd?: { unit: string; slice: string; user?: boolean };
  /** The config has a `process` (start refuses otherwise). */
  hasProcess: boolean;
  /**
   * tsrun.network: what delete takes down (host veth ends, address leases, the bridge if asked), as
   * the network code recorded it (NetworkRecord in src/network/setup.ts). Opaque JSON to the store,
   * which never looks inside: the network code reads it back and checks it.
   */
  network?: unknown;
  /** linux.netDevices: what delete moves back (NetDevicesRecord in src/network/netdevices-move.ts); opaque here too. */
  netDevices?: unknown;
  /** The hooks `start` and `delete` run (the bundle's config may change after create: runtime.md). */
  hooks?: Pick<Hooks, "poststart" | "poststop">;
  /** Created with --no-new-keyring: exec'd processes keep the caller's session keyring too. */
  noNewKeyring?: boolean;
}

/**
 * runc's rule: `^[\w+-\.]+$`, where `+-\.` is a character range, so `,` is allowed too (runc 1.1
 * accepts "a,b"); never "." or "..". The id is the state dir's name (and the cgroup's): a name
 * longer than NAME_MAX is refused here, where runc fails later with "file name too long".
 */
const ID_RE = /^[A-Za-z0-9_+,\-.]+$/;
export const ID_MAX = 255;

export function checkId(id: string | undefined): string {
  if (!id) throw new UsageError("container id cannot be empty");
  if (id.length > ID_MAX) throw new UsageError(`invalid container id (${id.length} characters): at most ${ID_MAX}`);
  if (!ID_RE.test(id) || id === "." || id === "..") {
    throw new UsageError(`invalid container id ${JSON.stringify(id)}: use letters, digits, and _ + , - . only`);
  }
  return id;
}

export class StateStore {
  readonly root: string;

  /** A relative root is taken from the caller's directory once (as runc): tsrun-init and the hooks get
   *  absolute paths, whatever their working directory. */
  constructor(root: string = DEFAULT_ROOT) {
    this.root = resolve(root);
  }

  dir(id: string): string {
    return join(this.root, id);
  }
  fifoPath(id: string): string {
    return join(this.root, id, "exec.fifo");
  }

  /**
   * Make <root>/<id> atomically: the one create that makes it owns the id. Returns the directory's
   * inode, by which the creator later tells its own directory from one made again under the same name.
   */
  claim(id: string): number {
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const dir = this.dir(id);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new ContainerStateError(id, `container with id ${id} already exists`);
      throw new TsrunError(`cannot create state directory ${dir}: ${(e as Error).message}`);
    }
    try {
      return statSync(dir).ino;
    } catch (e) {
      // A `delete --force` of this id saw the fresh directory (no state.json yet reads as a dead
      // create's) and removed it before the creator could even look at it.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ContainerStateError(id, deletedWhileCreating(id));
      throw e;
    }
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
    return parseRecord(id, text);
  }

  private orphanRecord(id: string): ContainerRecord {
    return {
      ociVersion: "1.2.0", id, bundle: "", rootfs: "", created: new Date(0).toISOString(), owner: "root",
      annotations: {}, status: "creating", pid: 0, pidStartTime: 0, creatorPid: 0, creatorStartTime: 0,
      cgroupPath: "", cgroupCreated: [], hasProcess: false,
    };
  }

  /**
   * The live status of a container (see status.ts). Whether its cgroup is frozen is the caller's to
   * find out (the lifecycle layer asks the cgroup code): looked up only when the answer depends on it.
   */
  status(rec: ContainerRecord, frozen: () => boolean): Status {
    return deriveStatus({
      recorded: rec.status,
      initAlive: () => rec.pid > 0 && isSameLiveProcess(rec.pid, rec.pidStartTime),
      creatorAlive: () => rec.creatorPid > 0 && isSameLiveProcess(rec.creatorPid, rec.creatorStartTime),
      fifoExists: () => existsSync(this.fifoPath(rec.id)),
      frozen,
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
    // An overlay's upper and work dirs are in it (work/work is mode 0: a rootless owner must open it first).
    removeTree(this.dir(id));
  }

  /** Take the container's lock (src/state/lock.ts); waits up to `timeoutMs` for a live holder. */
  lock(id: string, timeoutMs = 10_000): () => void {
    checkId(id);
    return lockContainer(this.dir(id), id, timeoutMs);
  }
}

/** What a create says when a racing `delete` removed its state directory (managers retry on it). */
export function deletedWhileCreating(id: string): string {
  return `container ${id} was deleted while it was being created`;
}

/**
 * The record in a state.json text. Unparsable, or missing what every use needs (a truncated or
 * hand-edited file; state.json is only ever replaced by rename, so tsrun itself never leaves one):
 * a CorruptStateError naming the file, which `delete --force` knows how to clean up after.
 */
const STATUSES: readonly string[] = ["creating", "created", "running", "paused", "stopped"] satisfies Status[];

export function parseRecord(id: string, text: string): ContainerRecord {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (e) {
    throw new CorruptStateError(id, `${(e as Error).message}`);
  }
  const r = rec as Partial<ContainerRecord> | null;
  const ok =
    r !== null && typeof r === "object" && !Array.isArray(r) && r.id === id && STATUSES.includes(r.status as Status) &&
    Number.isSafeInteger(r.pid) && Number.isSafeInteger(r.pidStartTime) && Number.isSafeInteger(r.creatorPid) &&
    Number.isSafeInteger(r.creatorStartTime) && typeof r.cgroupPath === "string" && Array.isArray(r.cgroupCreated) &&
    r.cgroupCreated.every((c) => typeof c === "string") &&
    (r.systemd === undefined || (typeof r.systemd === "object" && r.systemd !== null && typeof r.systemd.unit === "string" && typeof r.systemd.slice === "string"));
  if (!ok) throw new CorruptStateError(id, "fields missing or of the wrong type");
  return rec as ContainerRecord;
}

/** state.json of a container cannot be read as a record. */
export class CorruptStateError extends ContainerStateError {
  constructor(id: string, detail: string) {
    super(id, `state of container ${id} is corrupt (state.json: ${detail}); \`tsrun delete --force ${id}\` removes it`);
  }
}
