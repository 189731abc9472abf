import { statSync } from "node:fs";
import { basename, isAbsolute, join, posix, resolve } from "node:path";
import { ConfigError, PathError } from "../errors.js";
import type { LinuxDevice, Mount } from "../spec/types.js";
import type { CgroupHierarchy } from "../cgroups/hierarchy.js";
import { Op, type PlanRecord } from "../plan/ops.js";
import { DEV_SYMLINKS, deviceNodes } from "./devices.js";
import { BIND_REMOUNT_FLAGS, MS } from "./mount-flags.js";
import { parseMountOptions } from "./mount-options.js";

const MKDIR_NONE = 0;
const MKDIR_DIR = 1;
const MKDIR_FILE = 2;

export type ConfigMount = Pick<Mount, "destination" | "type" | "source" | "options">;

export interface RootfsInput {
  rootfs: string;
  bundle: string;
  mounts: readonly ConfigMount[];
  devices?: readonly LinuxDevice[];
  readonly: boolean;
  rootfsPropagation?: string;
  noPivot: boolean;
  /** A new user namespace: device nodes are bind-mounted from the host (mknod is not allowed there). */
  newUser: boolean;
  /** The container has a private cgroup namespace (cgroup mounts then show its own subtree). */
  cgroupns: boolean;
  cgroupPath: string;
  hierarchies: readonly CgroupHierarchy[];
}

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

function mount(flags: number, mkdirKind: number, source: string, target: string, fstype: string, data: string, root: string): PlanRecord {
  return { op: Op.MOUNT, ints: [flags, mkdirKind], strs: [source, target, fstype, data, root] };
}

/** Container path -> host path under the rootfs (lexically; tsrun-init refuses symlink escapes). */
function inRoot(rootfs: string, dest: string): string {
  return join(rootfs, posix.normalize(posix.join("/", dest)));
}

/**
 * The mount records of a new mount namespace, from making `/` non-propagating to the switch into the
 * root (pivot_root, or move + chroot with --no-pivot) and the read-only remount of `/`. Pure apart from
 * stat(2) of bind sources (whether to create a file or a directory as the mount point).
 */
export function planRootfs(input: RootfsInput): PlanRecord[] {
  const { rootfs } = input;
  const recs: PlanRecord[] = [];
  let rootProp = MS.SLAVE | MS.REC;
  if (input.rootfsPropagation !== undefined) {
    const p = PROPAGATION[input.rootfsPropagation];
    if (p === undefined) throw new ConfigError("/linux/rootfsPropagation", `unknown propagation "${input.rootfsPropagation}"`);
    rootProp = p;
  }
  // Nothing mounted from here on may reach the host's namespace. A shared root would also make pivot_root fail.
  recs.push(mount(rootProp === (MS.SHARED | MS.REC) || rootProp === MS.SHARED ? MS.SLAVE | MS.REC : rootProp, MKDIR_NONE, "", "/", "", "", ""));
  // The rootfs must be a mount point of its own for pivot_root.
  recs.push(mount(MS.BIND | MS.REC, MKDIR_NONE, rootfs, rootfs, "", "", ""));

  let devIsBind = false;
  input.mounts.forEach((m, i) => {
    const field = `/mounts/${i}`;
    const dest = posix.normalize(posix.join("/", m.destination));
    if (dest === "/dev" && (m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind"))) devIsBind = true;
    if (m.type === "cgroup") {
      recs.push(...planCgroupMount(input, m, dest, field));
      return;
    }
    recs.push(...planMount(input, m, dest, field));
  });

  if (!devIsBind) {
    for (const d of deviceNodes(input.devices)) {
      const target = inRoot(rootfs, d.path);
      if (input.newUser) recs.push(mount(MS.BIND, MKDIR_FILE, d.path, target, "", "", rootfs));
      else recs.push({ op: Op.MKNOD, ints: [d.mode, d.major, d.minor, d.uid, d.gid], strs: [target] });
    }
    for (const [target, link] of DEV_SYMLINKS) recs.push({ op: Op.SYMLINK, ints: [1], strs: [target, inRoot(rootfs, link)] });
  }

  recs.push(input.noPivot ? { op: Op.MOVE_ROOT, strs: [rootfs] } : { op: Op.PIVOT_ROOT, strs: [rootfs] });
  if (input.readonly) recs.push(mount(MS.BIND | MS.REMOUNT | MS.RDONLY, MKDIR_NONE, "", "/", "", "", ""));
  if (input.rootfsPropagation !== undefined) recs.push(mount(rootProp, MKDIR_NONE, "", "/", "", "", ""));
  return recs;
}

function planMount(input: RootfsInput, m: ConfigMount, dest: string, field: string): PlanRecord[] {
  const opts = parseMountOptions(m.options, `${field}/options`);
  const target = inRoot(input.rootfs, dest);
  const isBind = opts.bind || m.type === "bind";
  const recs: PlanRecord[] = [];
  if (isBind) {
    if (!m.source) throw new ConfigError(`${field}/source`, "a bind mount needs a source");
    const source = isAbsolute(m.source) ? m.source : resolve(input.bundle, m.source);
    let kind = MKDIR_DIR;
    try {
      kind = statSync(source).isDirectory() ? MKDIR_DIR : MKDIR_FILE;
    } catch (e) {
      throw new PathError(source, `bind mount source of ${field} (${dest}): ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
    }
    recs.push(mount(MS.BIND | (opts.recursive ? MS.REC : 0), kind, source, target, "", "", input.rootfs));
    // mount(2) ignores most flags on a new bind mount: they take a second, remount call.
    const extra = opts.flags & BIND_REMOUNT_FLAGS;
    if (extra) recs.push(mount(MS.BIND | MS.REMOUNT | extra, MKDIR_NONE, "", target, "", "", ""));
  } else {
    if (!m.type) throw new ConfigError(`${field}/type`, `mount of ${dest} needs a type (or the bind option)`);
    recs.push(mount(opts.flags, MKDIR_DIR, m.source ?? m.type, target, m.type, opts.data, input.rootfs));
  }
  for (const p of opts.propagation) recs.push(mount(p, MKDIR_NONE, "", target, "", "", ""));
  return recs;
}

/**
 * `type: cgroup` is not one filesystem on a v1 or hybrid host: as runc does, make a tmpfs at the
 * destination with one mount per hierarchy in it. With a cgroup namespace each is a fresh cgroup mount
 * (the kernel shows the namespace's root); without, the container's own cgroup directory is bound.
 */
function planCgroupMount(input: RootfsInput, m: ConfigMount, dest: string, field: string): PlanRecord[] {
  const opts = parseMountOptions(m.options, `${field}/options`);
  const target = inRoot(input.rootfs, dest);
  const flags = opts.flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME | MS.NOATIME | MS.STRICTATIME);
  const ro = (opts.flags & MS.RDONLY) !== 0;
  const recs: PlanRecord[] = [];
  const v1 = input.hierarchies.filter((h) => h.version === 1);
  const v2 = input.hierarchies.find((h) => h.version === 2);
  const hostRoot = "/sys/fs/cgroup";

  const one = (h: CgroupHierarchy, at: string): void => {
    const roFlag = ro ? MS.RDONLY : 0;
    if (input.cgroupns) {
      recs.push(mount(flags | roFlag, MKDIR_DIR, "cgroup", at, h.version === 2 ? "cgroup2" : "cgroup", h.version === 2 ? "" : h.controllers, input.rootfs));
    } else {
      recs.push(mount(MS.BIND | MS.REC, MKDIR_DIR, join(h.mountPoint, input.cgroupPath), at, "", "", input.rootfs));
      recs.push(mount(MS.BIND | MS.REMOUNT | flags | roFlag, MKDIR_NONE, "", at, "", "", ""));
    }
  };

  if (v1.length === 0 && v2) {
    one(v2, target);
  } else {
    recs.push(mount(flags, MKDIR_DIR, "tmpfs", target, "tmpfs", "mode=755", input.rootfs));
    for (const h of [...v1, ...(v2 ? [v2] : [])]) {
      const rel = h.mountPoint.startsWith(hostRoot + "/") ? h.mountPoint.slice(hostRoot.length + 1) : basename(h.mountPoint);
      one(h, join(target, rel));
      // Co-mounted controllers (cpu,cpuacct) are reached through a link per controller, as on hosts.
      const names = h.controllers.split(",").filter((c) => c && !c.startsWith("name="));
      if (names.length > 1) for (const c of names) if (c !== rel) recs.push({ op: Op.SYMLINK, ints: [1], strs: [rel, join(target, c)] });
    }
    if (ro) recs.push(mount(MS.REMOUNT | MS.RDONLY | flags, MKDIR_NONE, "", target, "", "", ""));
  }
  for (const p of opts.propagation) recs.push(mount(p, MKDIR_NONE, "", target, "", "", ""));
  return recs;
}
