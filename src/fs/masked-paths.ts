import { statSync } from "node:fs";
import { join } from "node:path";
import { Op, type PlanRecord } from "../plan/ops.js";
import { MS } from "./mount-flags.js";

/**
 * Where a container path lives, seen from the host before the container exists: under a proc or sysfs
 * that the config mounts at /proc or /sys, the same kernel's (so the host's own view tells whether a
 * file is there); anywhere else, in the rootfs.
 */
function hostView(rootfs: string, path: string, kernelFs: ReadonlySet<string>): string {
  const top = /^\/(proc|sys)(\/|$)/.exec(path)?.[1];
  return top && kernelFs.has(`/${top}`) ? path : join(rootfs, path);
}

function kindOf(path: string): "dir" | "file" | null {
  try {
    return statSync(path).isDirectory() ? "dir" : "file";
  } catch {
    return null;
  }
}

/**
 * linux.maskedPaths and linux.readonlyPaths, as records that run after the switch into the root
 * (paths are the container's). A masked directory gets an empty read-only tmpfs, a masked file
 * /dev/null; a read-only path is bound onto itself and remounted read-only. Missing paths are skipped,
 * as the spec allows.
 */
export function planMaskedAndReadonly(
  rootfs: string,
  mounts: readonly { destination: string; type?: string }[],
  masked: readonly string[] = [],
  readonly: readonly string[] = [],
): PlanRecord[] {
  const kernelFs = new Set(
    mounts.filter((m) => (m.destination === "/proc" && m.type === "proc") || (m.destination === "/sys" && m.type === "sysfs")).map((m) => m.destination),
  );
  const recs: PlanRecord[] = [];
  const mount = (flags: number, source: string, target: string, fstype: string, data: string): PlanRecord => ({
    op: Op.MOUNT,
    ints: [flags, 0],
    strs: [source, target, fstype, data, ""],
  });
  for (const p of readonly) {
    if (!kindOf(hostView(rootfs, p, kernelFs))) continue;
    recs.push(mount(MS.BIND | MS.REC, p, p, "", ""));
    recs.push(mount(MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, "", p, "", ""));
  }
  for (const p of masked) {
    const kind = kindOf(hostView(rootfs, p, kernelFs));
    if (kind === "dir") recs.push(mount(MS.RDONLY, "tmpfs", p, "tmpfs", "size=0,mode=555"));
    else if (kind === "file") recs.push(mount(MS.BIND, "/dev/null", p, "", ""));
  }
  return recs;
}
