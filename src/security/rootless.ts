import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/**
 * Who is calling, in runc's two senses of "rootless":
 * - nonRootEuid (runc's RootlessEUID): the effective uid is not 0. The container needs a user namespace
 *   of its own, ids are mapped through the user's own ids or newuidmap/newgidmap, nothing of host root's
 *   may be assumed (state root, mknod, host-root-only mounts, networks).
 * - cgroups (runc's RootlessCgroups): the cgroup tree may not be writable: a non-root euid, or root in a
 *   user namespace that does not map host root (rootless podman runs the runtime so), or `--rootless true`.
 *   Then a container that asks for no resources runs without a cgroup of its own where none is writable.
 */
export interface Rootless {
  euid: number;
  egid: number;
  nonRootEuid: boolean;
  cgroups: boolean;
}

/** What the global `--rootless` flag says: runc's values, "auto" (the default) probes. */
export type RootlessFlag = "auto" | "true" | "false";

export function parseRootlessFlag(value: string): RootlessFlag {
  const v = value.toLowerCase();
  if (v === "auto") return "auto";
  if (["true", "1", "t", "yes"].includes(v)) return "true";
  if (["false", "0", "f", "no"].includes(v)) return "false";
  throw new UsageError(`--rootless must be true, false or auto, not "${value}"`);
}

/**
 * The rule, from the facts. `userNsMapsHostRoot`: null when tsrun runs in the initial user namespace,
 * else whether its uid_map maps host uid 0. Pure.
 */
export function decideRootless(flag: RootlessFlag, euid: number, egid: number, userNsMapsHostRoot: boolean | null): Rootless {
  const nonRootEuid = euid !== 0;
  let cgroups: boolean;
  if (flag === "true") cgroups = true;
  else if (flag === "false") cgroups = false;
  else cgroups = nonRootEuid || userNsMapsHostRoot === false;
  return { euid, egid, nonRootEuid, cgroups };
}

/** null in the initial user namespace ("0 0 4294967295"); else whether a range maps parent uid 0. */
export function userNsMapsHostRoot(uidMap: string): boolean | null {
  const lines = uidMap.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
  if (lines.length === 1 && lines[0][0] === 0 && lines[0][1] === 0 && lines[0][2] === 4294967295) return null;
  return lines.some(([, outside, count]) => outside === 0 && count > 0);
}

/** Whether this process is outside the initial user namespace (runc's userns.RunningInUserNS). */
export function inUserNamespace(): boolean {
  try {
    return userNsMapsHostRoot(readFileSync("/proc/self/uid_map", "utf8")) !== null;
  } catch {
    return false;
  }
}

/** This process's rootless facts. Reads /proc/self/uid_map only when the euid is 0 and the flag is auto. */
export function rootlessMode(flag: RootlessFlag = "auto"): Rootless {
  const euid = process.geteuid?.() ?? 0;
  const egid = process.getegid?.() ?? 0;
  let mapsRoot: boolean | null = null;
  if (euid === 0 && flag === "auto") {
    try {
      mapsRoot = userNsMapsHostRoot(readFileSync("/proc/self/uid_map", "utf8"));
    } catch {
      mapsRoot = null;
    }
  }
  return decideRootless(flag, euid, egid, mapsRoot);
}
