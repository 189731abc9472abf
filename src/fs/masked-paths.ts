import { lstatSync, readlinkSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { Op, type PlanRecord } from "../plan/ops.js";
import { MS } from "./mount-flags.js";

/**
 * Where a container path lives, seen from the host before the container exists: under a proc or sysfs
 * that the config mounts at /proc or /sys, the same kernel's (so the host's own view tells whether a
 * file is there); anywhere else, in the rootfs.
 */
function hostView(rootfs: string, path: string, kernelFs: ReadonlySet<string>): string {
  const top = /^\/(proc|sys)(\/|$)/.exec(path)?.[1];
  return top && kernelFs.has(`/${top}`) ? path : join(rootfs, resolveInRoot(rootfs, path));
}

/**
 * A container path with every symlink in it resolved as the container will see it: an absolute link
 * restarts at the rootfs, ".." stops at it. Without this a link such as /mnt/x -> /home/user would be
 * looked up on the host, and the planner would decide from the host's file. Returns the resolved
 * container path (components that do not exist are kept as they are). At most 40 links, as the kernel.
 */
export function resolveInRoot(rootfs: string, path: string): string {
  const pending = posix.normalize(posix.join("/", path)).split("/").filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (pending.length) {
    const name = pending.shift()!;
    if (name === ".") continue;
    if (name === "..") {
      done.pop();
      continue;
    }
    const host = join(rootfs, ...done, name);
    let target: string | undefined;
    try {
      if (lstatSync(host).isSymbolicLink()) target = readlinkSync(host);
    } catch {
      // missing: keep the rest as written
    }
    if (target === undefined) {
      done.push(name);
      continue;
    }
    if (++links > 40) return "/" + [...done, name, ...pending].join("/");
    if (target.startsWith("/")) done.length = 0;
    pending.unshift(...target.split("/").filter(Boolean));
  }
  return "/" + done.join("/");
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
    // No data, as runc: an empty read-only tmpfs (mode 1777, but nothing can be written in it).
    if (kind === "dir") recs.push(mount(MS.RDONLY, "tmpfs", p, "tmpfs", ""));
    else if (kind === "file") recs.push(mount(MS.BIND, "/dev/null", p, "", ""));
  }
  return recs;
}
