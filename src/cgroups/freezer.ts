import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { HostError } from "../errors.js";
import { type CgroupHierarchy, hostHierarchies, usesV2Driver } from "./hierarchy.js";

/**
 * The container's freezer: v1 `freezer.state` on legacy and hybrid hosts (as runc: the v1 controller
 * is the one that exists there; a hybrid host's cgroup2 mount has no controllers to speak of), v2
 * `cgroup.freeze` / `cgroup.events` on a unified host.
 */
export interface Freezer {
  version: 1 | 2;
  /** The container's directory in the freezer hierarchy. */
  dir: string;
}

/** The v1 freezer controller's directory for the container (null: no freezer hierarchy, or no path). */
export function v1FreezerOf(cgroupPath: string, hierarchies: readonly CgroupHierarchy[]): Freezer | null {
  if (!cgroupPath) return null;
  const v1 = hierarchies.find((h) => h.version === 1 && h.controllers.split(",").includes("freezer"));
  return v1 ? { version: 1, dir: join(v1.mountPoint, cgroupPath) } : null;
}

/** The v2 freezer (cgroup.freeze of the container's directory; null: no cgroup2 mount, or no path). */
export function v2FreezerOf(cgroupPath: string, hierarchies: readonly CgroupHierarchy[]): Freezer | null {
  if (!cgroupPath) return null;
  const v2 = hierarchies.find((h) => h.version === 2);
  return v2 ? { version: 2, dir: join(v2.mountPoint, cgroupPath) } : null;
}

/** The freezer the container's driver uses on this host (the factory's rule): what `state` and `list`
 *  read, from this module alone (loading more cost `state` ~1.5 ms per call). */
export function containerFreezer(cgroupPath: string, hierarchies: readonly CgroupHierarchy[] = hostHierarchies()): Freezer | null {
  return usesV2Driver(hierarchies) ? v2FreezerOf(cgroupPath, hierarchies) : v1FreezerOf(cgroupPath, hierarchies);
}

/** v1 freezer.state: THAWED, FREEZING or FROZEN. Pure. */
export function parseFreezerState(text: string): "THAWED" | "FREEZING" | "FROZEN" {
  const s = text.trim();
  if (s === "FROZEN" || s === "FREEZING" || s === "THAWED") return s;
  throw new HostError(`unexpected freezer.state "${s}"`);
}

/** A flat-keyed cgroup file ("key value" lines: cgroup.events, memory.events, cpu.stat, ...). Pure. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

function read(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

/**
 * Whether the kernel has the container frozen. v1 FREEZING counts as not frozen yet (a pause in
 * progress, or one that could not finish); a missing cgroup is not frozen.
 */
export function isFrozen(f: Freezer | null): boolean {
  if (!f) return false;
  if (f.version === 1) {
    const t = read(join(f.dir, "freezer.state"));
    return t !== null && t.trim() === "FROZEN";
  }
  const ev = read(join(f.dir, "cgroup.events"));
  return ev !== null && parseFlatKeyed(ev).frozen === 1;
}

/**
 * What would freeze a process put into the cgroup at `cgroupPath` (create's check, as runc's "container's
 * cgroup unexpectedly frozen"): the v1 freezer and the v2 hierarchy (a hybrid host has both, and the
 * init is cloned into the v2 one), each read at the cgroup or, where it does not exist yet, at its
 * nearest existing ancestor (a new cgroup starts frozen under a frozen parent). The file and what it
 * says, or null. FREEZING counts: whatever joins is frozen too.
 */
export function frozenOnArrival(cgroupPath: string, hierarchies: readonly CgroupHierarchy[]): string | null {
  for (const h of hierarchies) {
    if (h.version === 1 && !h.controllers.split(",").includes("freezer")) continue;
    // The root cgroup has neither freezer.state nor cgroup.events: the walk ends there.
    for (let dir = join(h.mountPoint, cgroupPath); dir.length > h.mountPoint.length; dir = dirname(dir)) {
      if (h.version === 1) {
        const state = read(join(dir, "freezer.state"))?.trim();
        if (state === undefined) continue;
        if (state !== "THAWED") return `${join(dir, "freezer.state")}: ${state}`;
      } else {
        const events = read(join(dir, "cgroup.events"));
        if (events === null) continue;
        if (read(join(dir, "cgroup.freeze"))?.trim() === "1") return `${join(dir, "cgroup.freeze")}: 1`;
        if (parseFlatKeyed(events).frozen === 1) return `${join(dir, "cgroup.events")}: frozen 1`;
      }
      break;
    }
  }
  return null;
}

/**
 * Freeze or thaw, and wait until the kernel says it is done: v1 passes through FREEZING while tasks
 * are still being stopped (a task in an uninterruptible sleep delays it), v2 sets `frozen 1` in
 * cgroup.events only once every task is stopped. Writing again while waiting is what runc does too:
 * a v1 freeze that races a fork may need a second push.
 */
export function setFrozen(f: Freezer, frozen: boolean, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  const file = join(f.dir, f.version === 1 ? "freezer.state" : "cgroup.freeze");
  const value = f.version === 1 ? (frozen ? "FROZEN" : "THAWED") : frozen ? "1" : "0";
  // Already asked and already there (every delete thaws first, and most containers were never paused):
  // no write. On v2 the request (cgroup.freeze) is checked too: an emptied cgroup whose freeze was
  // requested reports itself not frozen, and must still get its "0".
  if ((f.version === 1 || read(file)?.trim() === value) && (frozen ? isFrozen(f) : isThawed(f))) return;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    try {
      writeFileSync(file, value);
    } catch (e) {
      throw new HostError(`cannot ${frozen ? "freeze" : "thaw"} cgroup ${f.dir}: ${(e as Error).message}`);
    }
    if (frozen ? isFrozen(f) : isThawed(f)) return;
    if (Date.now() > deadline) {
      // Leave it as it was asked to be left only when it got there: a half-frozen cgroup is thawed.
      if (frozen) {
        try {
          writeFileSync(file, f.version === 1 ? "THAWED" : "0");
        } catch {
          // reported below
        }
      }
      throw new HostError(`cgroup ${f.dir} did not become ${frozen ? "frozen" : "thawed"} within ${timeoutMs} ms`);
    }
    sleepMs(delay);
  }
}

function isThawed(f: Freezer): boolean {
  if (f.version === 1) return read(join(f.dir, "freezer.state"))?.trim() === "THAWED";
  const ev = read(join(f.dir, "cgroup.events"));
  return ev === null || parseFlatKeyed(ev).frozen !== 1;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** The verbs are synchronous: block this thread briefly between reads of the freezer state. */
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
