import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type CgroupHierarchy, hostHierarchies } from "./hierarchy.js";

/** Pids listed in a cgroup.procs text (one per line). Pure. */
export function parseProcs(text: string): number[] {
  return text.split("\n").filter((l) => /^\d+$/.test(l.trim())).map((l) => Number(l.trim()));
}

/**
 * Host pids of every process in the container's cgroup and in the sub-cgroups it made, over every
 * hierarchy (a process may have moved itself in one hierarchy only). Sorted, without duplicates.
 */
export function containerPids(cgroupPath: string, hierarchies: readonly CgroupHierarchy[] = hostHierarchies()): number[] {
  // Never the hierarchy roots ("" or "/": a record from a create that died early): those hold the host.
  if (cgroupPath.replace(/\/+$/, "") === "") return [];
  const pids = new Set<number>();
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
      for (const p of parseProcs(readFileSync(join(dir, "cgroup.procs"), "utf8"))) pids.add(p);
    } catch {
      return; // gone, or not a cgroup directory
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  for (const h of hierarchies) walk(join(h.mountPoint, cgroupPath));
  return [...pids].sort((a, b) => a - b);
}
