import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { HostError } from "../errors.js";
import type { LinuxResources } from "../spec/types.js";
import type { CgroupWrite, CurrentValues } from "./resource-writes.js";

/** strerror text for the errnos cgroup writes give, so messages read like runc's. */
const STRERROR: Record<string, string> = {
  EBUSY: "Device or resource busy",
  EINVAL: "Invalid argument",
  ERANGE: "Numerical result out of range",
  EPERM: "Operation not permitted",
  EACCES: "Permission denied",
  ENOSPC: "No space left on device",
  EOPNOTSUPP: "Operation not supported",
  ENOTSUP: "Operation not supported",
  ENOENT: "No such file or directory",
  ENODEV: "No such device",
};
const strerror = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  return STRERROR[code] ?? (e as Error).message;
};

/** Write without O_CREAT: a missing control file must show up as ENOENT, not be "created". */
function writeControl(path: string, value: string): void {
  writeFileSync(path, value, { flag: "r+" });
}

function readControl(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export interface ApplyOptions {
  warn: (msg: string) => void;
  /**
   * `update`: on a failed write, put back the files already written (their old one-line values), so
   * a refused update leaves the limits as they were. `create` need not: its undo removes the cgroup.
   */
  restoreOnError?: boolean;
}

/** The container's directory that holds a controller's files (undefined: not mounted on this host). */
export type ControllerDir = (controller: string) => string | undefined;

/**
 * v1 values the resource writers order their writes by (update: lowering memory below usage, a
 * cpu period change against the quota). A fresh cgroup reads as the kernel's defaults.
 */
export function currentValuesV1(dirOf: ControllerDir, r: LinuxResources): CurrentValues {
  const current: CurrentValues = {};
  const now = (controller: string, file: string): number | undefined => {
    const dir = dirOf(controller);
    const text = dir && readControl(join(dir, file));
    return text ? Number(text.trim()) : undefined;
  };
  if (r.memory) current.memoryLimit = now("memory", "memory.limit_in_bytes");
  if (r.cpu?.period) {
    current.cpuPeriod = now("cpu", "cpu.cfs_period_us");
    current.cpuQuota = now("cpu", "cpu.cfs_quota_us");
  }
  return current;
}

/**
 * Carry out planned writes (a CgroupDriver's applyResources) in the container's cgroup, already
 * created. Every failure is a HostError naming the config field and the file, e.g.
 * `/linux/resources/memory/limit: cannot write memory.limit_in_bytes=4194304: Device or resource busy`.
 */
export function applyWrites(dirOf: ControllerDir, writes: readonly CgroupWrite[], opts: ApplyOptions): void {
  const done: { path: string; old: string }[] = [];
  try {
    for (const w of writes) {
      const dir = dirOf(w.controller);
      if (!dir) {
        if (w.ifMissing !== undefined) {
          if (w.ifMissing) opts.warn(w.ifMissing);
          continue;
        }
        throw new HostError(missingControllerMessage(w));
      }
      writeOne(dir, w, done, opts);
    }
  } catch (e) {
    if (opts.restoreOnError) {
      for (const { path, old } of done.reverse()) {
        try {
          writeControl(path, old);
        } catch {
          // best effort: the error below is what the caller must see
        }
      }
    }
    throw e;
  }
}

function writeOne(dir: string, w: CgroupWrite, done: { path: string; old: string }[], opts: ApplyOptions): void {
  const attempt = (file: string, value: string): boolean => {
    const path = join(dir, file);
    const old = opts.restoreOnError ? readControl(path) : undefined;
    try {
      writeControl(path, value);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw new HostError(`${w.field}: cannot write ${file}=${value}: ${strerror(e)}`);
    }
    // Only one-line files can be put back by writing what was read (device lists cannot).
    if (old !== undefined && old.trim() && !old.trim().includes("\n")) done.push({ path, old: old.trim() });
    return true;
  };
  if (attempt(w.file, w.value)) return;
  if (w.fallback && attempt(w.fallback.file, w.fallback.value)) return;
  if (w.ifMissing !== undefined) {
    if (w.ifMissing) opts.warn(w.ifMissing);
    return;
  }
  throw new HostError(missingFileMessage(w));
}

/** v1: the write's controller has no hierarchy on this host. */
export function missingControllerMessage(w: CgroupWrite): string {
  return `${w.field}: the ${w.controller} cgroup controller is not mounted on this host`;
}

/** The write's file (and its fallback) is not in the container's cgroup. */
export function missingFileMessage(w: CgroupWrite): string {
  const names = w.fallback ? `${w.file} nor ${w.fallback.file}` : w.file;
  return `${w.field}: this host's cgroup has no ${names} (${w.needs ? `it needs ${w.needs}` : "the kernel or its I/O scheduler does not support it"})`;
}

/** cgroup v2: of the controllers the root offers, those create turns on for these writes (always the
 *  ones `events` and `ps` read, as runc enables every available controller). Pure. */
export function controllersToEnable(offered: ReadonlySet<string>, writes: readonly CgroupWrite[]): string[] {
  return [...new Set([...STATS_CONTROLLERS, ...writes.map((w) => w.controller)])].filter((c) => c !== "cgroup" && offered.has(c));
}

const STATS_CONTROLLERS = ["cpu", "memory", "pids", "io"];

/**
 * cgroup v2: a controller's files exist in a cgroup only when every ancestor enables it in
 * cgroup.subtree_control. Enable the ones the writes need, top down from `from` (a path inside the
 * hierarchy: the root, or for a rootless caller the delegated directory, whose ancestors are not the
 * caller's to change); a controller `from` does not offer is left for the write to report (or skip,
 * for optional ones).
 */
export function enableControllers(mount: string, path: string, writes: readonly CgroupWrite[], warn: (m: string) => void, from = "/"): void {
  const top = join(mount, from).replace(/(.)\/$/, "$1");
  const available = new Set((readControl(join(top, "cgroup.controllers")) ?? "").trim().split(/\s+/));
  // Always the ones `events` and `ps` read (cpu, memory, pids, io), as runc enables every available
  // controller: without them a container without limits would have no memory.current or io.stat.
  const needed = controllersToEnable(available, writes);
  if (!needed.length) return;
  const chain: string[] = [];
  for (let d = dirname(join(mount, path)); d.length >= top.length; d = dirname(d)) {
    chain.unshift(d);
    if (d === top) break;
  }
  for (const dir of chain) {
    const on = new Set((readControl(join(dir, "cgroup.subtree_control")) ?? "").trim().split(/\s+/));
    const missing = needed.filter((c) => !on.has(c));
    if (!missing.length) continue;
    try {
      writeControl(join(dir, "cgroup.subtree_control"), missing.map((c) => `+${c}`).join(" "));
    } catch (e) {
      // e.g. EBUSY: the parent has processes of its own ("no internal processes" rule).
      warn(`cannot enable the ${missing.join(", ")} controller(s) in ${dir}: ${strerror(e)}`);
    }
  }
}
