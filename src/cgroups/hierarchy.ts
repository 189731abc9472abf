import { readFileSync } from "node:fs";

/** One mounted cgroup hierarchy of the host. */
export interface CgroupHierarchy {
  /** Where it is mounted, e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup. */
  mountPoint: string;
  version: 1 | 2;
  /** v1: the controller list as mounted ("cpu", "cpu,cpuacct", "name=systemd"); v2: "". */
  controllers: string;
}

/** Host layout: unified (v2 only), legacy (v1 only) or hybrid (v1 controllers plus a cgroup2 mount). */
export type CgroupLayout = "unified" | "legacy" | "hybrid";

/** mountinfo octal escapes (\040 for a space, ...). */
function unescape(s: string): string {
  if (!s.includes("\\")) return s;
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Super options of a v1 cgroup mount that are not controllers (a Set: every verb parses this, cold). */
const MOUNT_OPTIONS = new Set([
  "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "xattr", "nsdelegate",
  "favordynmods", "memory_recursiveprot", "cpuset_v2_mode", "noprefix",
]);

/** Parse /proc/self/mountinfo text for cgroup mounts. Pure, so it is unit-tested on samples. */
export function parseCgroupMounts(mountinfo: string): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    // Only the hierarchy's own root mount counts (field 4 is the root within the filesystem).
    if (left[3] !== "/") continue;
    const mountPoint = unescape(left[4]);
    if (fstype === "cgroup2") {
      out.push({ mountPoint, version: 2, controllers: "" });
    } else {
      const ctrls = superOpts.split(",").filter((o) => !MOUNT_OPTIONS.has(o) && !o.startsWith("release_agent="));
      out.push({ mountPoint, version: 1, controllers: ctrls.join(",") });
    }
  }
  // Keep one mount per hierarchy (bind mounts of the same hierarchy elsewhere are dropped).
  const seen = new Set<string>();
  return out.filter((h) => {
    const key = `${h.version}:${h.controllers}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function layoutOf(hierarchies: readonly CgroupHierarchy[]): CgroupLayout {
  const v1 = hierarchies.some((h) => h.version === 1 && !h.controllers.startsWith("name="));
  const v2 = hierarchies.some((h) => h.version === 2);
  if (v1 && v2) return "hybrid";
  return v1 ? "legacy" : "unified";
}

/** The one rule that picks a host's cgroupfs driver: v2 on a unified host, v1 on a legacy or hybrid one
 *  (as runc). cgroupDriver() and containerFreezer() both follow it. */
export function usesV2Driver(hierarchies: readonly CgroupHierarchy[]): boolean {
  return layoutOf(hierarchies) === "unified";
}

let cached: CgroupHierarchy[] | undefined;
/** The host's cgroup hierarchies, read once per process. */
export function hostHierarchies(): CgroupHierarchy[] {
  cached ??= parseCgroupMounts(readFileSync("/proc/self/mountinfo", "utf8"));
  return cached;
}
