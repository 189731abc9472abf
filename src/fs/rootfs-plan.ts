import { statSync, statfsSync } from "node:fs";
import { isAbsolute, join, posix, resolve } from "node:path";
import { ConfigError, PathError } from "../errors.js";
import type { LinuxDevice, Mount } from "../spec/types.js";
import type { CgroupFsMount, CgroupMounts } from "../cgroups/mounts.js";
import { Op, type PlanRecord } from "../launch/ops.js";
import { DEV_SYMLINKS, deviceNodes } from "./devices.js";
import { BIND_REMOUNT_FLAGS, MS, msToMountAttr } from "./mount-flags.js";
import { parseMountOptions } from "./mount-options.js";
import { type IdmapContext, mapText, planIdmappedBind } from "./idmapped-mounts.js";

const MKDIR_NONE = 0;
const MKDIR_DIR = 1;
const MKDIR_FILE = 2;
/** A directory, whose mode the new filesystem's root takes when it was there (runc chmods a tmpfs so). */
const MKDIR_DIR_KEEP_MODE = 4;

export type ConfigMount = Pick<Mount, "destination" | "type" | "source" | "options" | "uidMappings" | "gidMappings"> & { [SOURCE_MADE_AT_CREATE]?: "file" };

/** Marks tsrun's own bind mount of a file that create writes only after planning (the network's /etc
 *  files): its source is not looked at when planning. A symbol, so no config.json can set it. */
export const SOURCE_MADE_AT_CREATE = Symbol("source made at create");

export interface RootfsInput {
  rootfs: string;
  bundle: string;
  mounts: readonly ConfigMount[];
  devices?: readonly LinuxDevice[];
  readonly: boolean;
  rootfsPropagation?: string;
  /** The mount holding the rootfs (parentMount()): with a shared rootfsPropagation "/" stays shared and that
   *  mount, when shared, is made private (absent: "/" is made rslave first and shared after the switch, which
   *  keeps mounts made in the container from reaching the host). */
  rootfsParent?: { mountPoint: string; shared: boolean };
  noPivot: boolean;
  /** The container has no mount namespace of its own (none in linux.namespaces): as runc, the mounts are
   *  made in the caller's namespace and the root is switched with chroot. The propagation of the caller's
   *  "/" is left alone (runc makes it rslave, for everyone on the host): rootfsPropagation applies to the
   *  rootfs's own bind mount instead. */
  noMountNs?: boolean;
  /** Bind mount sources stage 0 opens after the clone, in the container's mount namespace (BIND_SOURCES):
   *  planRootfs appends to `paths` and the MOUNT and IDMAP_MOUNT records name them by index. `plain`: every
   *  bind's source (a new user namespace, tsrun as host root: its root may not be able to reach them); else
   *  only idmapped ones, each with an IDMAP_SOURCE record appended to `idmaps`. Absent: none (an idmapped
   *  mount is then refused). */
  sources?: { paths: string[]; plain: boolean; idmaps: PlanRecord[] };
  /** What idmapped mounts may use (src/fs/idmapped-mounts.ts); absent: refused as without host root. */
  idmap?: IdmapContext;
  /** The container has a user namespace of its own (new, or joined by path). Its root may mount proc, sysfs and
   *  mqueue only for a pid, network and ipc namespace that namespace owns: `pidns`, `netns` and `ipcns` say which
   *  of them are the container's own (new ones are: they are made inside its user namespace). */
  userNs?: boolean;
  /** The mounts are made by a root that is not host root in the initial user namespace (a user namespace of the
   *  container's own, or tsrun itself rootless): mknod of a device is refused (the nodes are bind-mounted from
   *  the host), and the flags the kernel locked on mounts copied from a more privileged namespace (nosuid,
   *  nodev, noexec, ro, atime) cannot be cleared, so every remount of a bind changes only the flags it asks
   *  (mount_setattr) and keeps the rest. */
  unprivileged?: boolean;
  /** The container has its own pid and ipc namespace, new or joined (see userNs). */
  pidns?: boolean;
  ipcns?: boolean;
  /** The container has a private cgroup namespace (cgroup mounts then show its own subtree). */
  cgroupns: boolean;
  /** The container's cgroup filesystems, from its CgroupDriver (mounts()). */
  cgroupMounts: CgroupMounts;
  /** The container has its own network namespace, new or joined (else sysfs is mounted read-only, as runc does: a
   *  writable sysfs of the host's network namespace would let the container change host devices). */
  netns?: boolean;
  /** linux.mountLabel, to give as `context=` to the filesystems that take it; only where SELinux is
   *  enabled (the caller leaves it undefined otherwise). */
  mountLabel?: string;
  /** The terminal's records (planTerminal's child part): run once /dev is complete, before `/` is made
   *  read-only (PTY may create /dev/console), as runc sets up its console. */
  console?: readonly PlanRecord[];
  /** Records to run in the container's mount namespace once every mount is made, right before the
   *  switch into the root (the createContainer hook point: host paths are still reachable). */
  beforePivot?: readonly PlanRecord[];
}

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC, shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC, unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

function mount(flags: number, mkdirKind: number, source: string, target: string, fstype: string, data: string, root: string): PlanRecord {
  return { op: Op.MOUNT, ints: [flags, mkdirKind], strs: [source, target, fstype, data, root] };
}

/** Recursive attributes (rro, rnosuid, ...) on the tree mounted at target, resolved inside root. */
function setattr(attrSet: number, attrClr: number, target: string, root: string): PlanRecord {
  return { op: Op.MOUNT_SETATTR, ints: [attrSet, attrClr, 0, 1], strs: [target, root] };
}

/**
 * Set `flags` (MS_*) on the bind mount at target and keep every other flag it has: mount_setattr changes only
 * the bits it is given. In a user namespace the flags a bind's source had are locked and a mount(2) remount
 * that leaves one out fails with EPERM (runc statfs()es the source and adds them to its remount).
 */
function keepLocked(flags: number, target: string, root: string): PlanRecord {
  const { attrSet, attrClr } = msToMountAttr(flags);
  return { op: Op.MOUNT_SETATTR, ints: [attrSet, attrClr, 0, 0], strs: [target, root] };
}

function copyUp(phase: 0 | 1, target: string, root: string): PlanRecord {
  return { op: Op.COPY_UP, ints: [phase], strs: [target, root] };
}

/** Container path -> host path under the rootfs (lexically; tsrun-init refuses symlink escapes). */
function inRoot(rootfs: string, dest: string): string {
  return join(rootfs, posix.normalize(posix.join("/", dest)));
}

/** linux.rootfsPropagation as mount(2) flags (default rslave). */
function rootPropagation(name: string | undefined): number {
  if (name === undefined) return MS.SLAVE | MS.REC;
  const p = PROPAGATION[name];
  if (p === undefined) throw new ConfigError("/linux/rootfsPropagation", `unknown propagation "${name}"`);
  return p;
}

/**
 * The mount records of the container's root, from making `/` non-propagating to the switch into the
 * root (pivot_root, move + chroot with --no-pivot, or chroot without a mount namespace of its own) and
 * the read-only remounts of `/dev` and `/`. Pure apart from stat(2) of bind sources (whether to create a
 * file or a directory as the mount point).
 */

export function planRootfs(input: RootfsInput): PlanRecord[] {
  const { rootfs } = input;
  const recs: PlanRecord[] = [];
  const rootProp = rootPropagation(input.rootfsPropagation);
  // Nothing mounted from here on may reach the host's namespace. A shared root would also make pivot_root
  // fail, and an unbindable one the bind of the rootfs below (runc fails there: "invalid argument"): both
  // are made rslave first and get their own propagation later (planRootUnbindable for unbindable).
  const late = rootProp & (MS.SHARED | MS.UNBINDABLE);
  if (!input.noMountNs && rootProp & MS.SHARED && input.rootfsParent) {
    // As runc: "/" stays a peer of the host's mounts, so a bidirectional volume (a bind of a shared host mount,
    // itself shared) stays in its host peer group and mounts made under it reach the host. Only the mount that
    // holds the rootfs is made private: the rootfs's bind below then propagates nowhere and pivot_root accepts it.
    recs.push(mount(rootProp, MKDIR_NONE, "", "/", "", "", ""));
    // Shared by now: on the host already, or made so by the line above (rshared reaches every mount; shared "/").
    const { mountPoint, shared } = input.rootfsParent;
    if (shared || rootProp & MS.REC || mountPoint === "/") recs.push(mount(MS.PRIVATE, MKDIR_NONE, "", mountPoint, "", "", ""));
  } else if (!input.noMountNs) recs.push(mount(late ? MS.SLAVE | MS.REC : rootProp, MKDIR_NONE, "", "/", "", "", ""));
  // The rootfs must be a mount point of its own for pivot_root.
  recs.push(mount(MS.BIND | MS.REC, MKDIR_NONE, rootfs, rootfs, "", "", ""));
  // Without a mount namespace, the rootfs's bind is the only mount that is the container's own.
  if (input.noMountNs && !late) recs.push(mount(rootProp, MKDIR_NONE, "", rootfs, "", "", ""));

  let devIsBind = false;
  // Records that wait until /dev is complete: a read-only /dev is mounted writable and remounted
  // read-only once its nodes, links and console are made (runc's finalizeRootfs).
  const devLate: PlanRecord[] = [];
  input.mounts.forEach((m, i) => {
    const field = `/mounts/${i}`;
    const dest = posix.normalize(posix.join("/", m.destination));
    if (dest === "/dev" && (m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind"))) devIsBind = true;
    if (m.type === "cgroup" || m.type === "cgroup2") {
      recs.push(...planCgroupMount(input, m, dest, field));
      return;
    }
    checkProcMount(m, dest, field, input.bundle);
    recs.push(...planMount(input, m, dest, field, devLate));
  });

  const nodes = devIsBind ? [] : deviceNodes(input.devices);
  // Bind-mounted nodes name host sources, so they are made before the switch (MOUNT resolves the
  // target inside the rootfs).
  if (input.unprivileged) for (const d of nodes) recs.push(mount(MS.BIND, MKDIR_FILE, d.path, inRoot(rootfs, d.path), "", "", rootfs));

  recs.push(...(input.beforePivot ?? []));
  if (input.noMountNs) recs.push({ op: Op.CHROOT, strs: [rootfs] });
  else if (input.noPivot) {
    // The host's mounts stay in the namespace under the moved root: no full procfs or sysfs may be left
    // among them, or a process of the container could mount a fresh one (runc's msMoveRoot).
    recs.push({ op: Op.DETACH_PSEUDO_FS, strs: [rootfs, "proc", "sysfs"] });
    recs.push({ op: Op.MOVE_ROOT, strs: [rootfs] });
  } else recs.push({ op: Op.PIVOT_ROOT, strs: [rootfs] });
  // mknod and symlink take path strings: made before the switch, a rootfs whose /dev is a symlink to a
  // host directory would have them created on the host. After it, "/" is the container's root and
  // every absolute symlink resolves inside it.
  if (!input.unprivileged) for (const d of nodes) recs.push({ op: Op.MKNOD, ints: [d.mode, d.major, d.minor, d.uid, d.gid], strs: [d.path] });
  if (!devIsBind) for (const [target, link, replace] of DEV_SYMLINKS) recs.push({ op: Op.SYMLINK, ints: [replace ? 2 : 1], strs: [target, link, ""] });
  if (input.console) recs.push(...input.console);
  recs.push(...devLate);
  // The rootfs is a bind: unprivileged, of a mount whose flags are locked (a rootfs on a nosuid filesystem).
  if (input.readonly) recs.push(input.unprivileged ? keepLocked(MS.RDONLY, "/", "") : mount(MS.BIND | MS.REMOUNT | MS.RDONLY, MKDIR_NONE, "", "/", "", "", ""));
  // Only a shared propagation is applied again (it could not be before the pivot). Re-applying a
  // recursive slave or private one here would also undo the propagation options of the config's own
  // mounts (a "shared" tmpfs would end up private); runc re-applies only shared as well.
  if (rootProp & MS.SHARED) recs.push(mount(rootProp, MKDIR_NONE, "", "/", "", "", ""));
  return recs;
}

/**
 * rootfsPropagation unbindable or runbindable: the container's "/" made so last of all, once the masked
 * and read-only paths (binds from inside the root) are made; runbindable reaches every mount of the tree.
 * Until then "/" is rslave (planRootfs). runc applies it to the host's "/" before binding the rootfs,
 * which then fails with EINVAL unless the rootfs is a mount of its own, and leaves the container's "/"
 * bindable. Pure.
 */
export function planRootUnbindable(rootfsPropagation: string | undefined): PlanRecord[] {
  const p = rootPropagation(rootfsPropagation);
  return p & MS.UNBINDABLE ? [mount(p, MKDIR_NONE, "", "/", "", "", "")] : [];
}

/** The files under /proc that lxcfs emulates: the only mounts runc lets into /proc (checkProcMount). */
const PROC_FILES_MOUNTABLE = new Set(["cpuinfo", "diskstats", "meminfo", "stat", "swaps", "uptime", "loadavg", "slabinfo", "net/dev", "sys/kernel/ns_last_pid"].map((f) => `/proc/${f}`));
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * As runc's checkProcMount: on /proc only a procfs (a proc mount, or a bind of a procfs), and under /proc
 * only the files lxcfs emulates. Anything else there (a tmpfs, a host directory) would stand in for the
 * kernel's files where a process of the container, or a tool reading /proc/self/..., expects them. The
 * init's own writes never go through the container's /proc (the procfs handle), so this is not what keeps
 * them safe. Not seen here: a destination reaching /proc through a symlink of the image.
 */
function checkProcMount(m: ConfigMount, dest: string, field: string, bundle: string): void {
  if (dest !== "/proc" && !dest.startsWith("/proc/")) return;
  const bind = m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
  if (dest === "/proc") {
    if (!bind && m.type === "proc") return;
    let fstype = -1;
    try {
      if (bind && m.source) fstype = statfsSync(isAbsolute(m.source) ? m.source : resolve(bundle, m.source)).type;
    } catch {
      // a missing source: refused below as not a procfs
    }
    if (fstype === PROC_SUPER_MAGIC) return;
    throw new ConfigError(field, `${bind ? `a bind of ${m.source ?? "nothing"}` : `a ${m.type ?? "mount"}`} on /proc: only a procfs may be mounted there (runc refuses it too)`);
  }
  if (!PROC_FILES_MOUNTABLE.has(dest)) throw new ConfigError(field, `${dest} is inside /proc: only ${[...PROC_FILES_MOUNTABLE].join(", ")} may be mounted there (runc refuses it too)`);
}

/** Filesystems that take an SELinux `context=` for linux.mountLabel (proc and sysfs label themselves). */
const LABELLED_FS = new Set(["tmpfs", "devpts", "mqueue"]);

function planMount(input: RootfsInput, m: ConfigMount, dest: string, field: string, late: PlanRecord[]): PlanRecord[] {
  const bindOpt = (m.options ?? []).some((o) => o === "bind" || o === "rbind");
  const isBind = bindOpt || m.type === "bind";
  const opts = parseMountOptions(m.options, `${field}/options`, isBind ? "bind" : m.type);
  const target = inRoot(input.rootfs, dest);
  const recs: PlanRecord[] = [];
  if (opts.copyUp && (isBind || m.type !== "tmpfs")) {
    throw new ConfigError(`${field}/options/${(m.options ?? []).indexOf("tmpcopyup")}`, "tmpcopyup applies to tmpfs mounts only");
  }
  const idmap = planIdmappedBind(m, field, opts, isBind, input.idmap ?? { userNs: undefined, hostRoot: false });
  if (idmap) {
    const sources = input.sources;
    if (!sources) throw new ConfigError(`${field}/uidMappings`, "idmapped mounts are not available for this container");
    const source = isAbsolute(m.source ?? "") ? m.source! : resolve(input.bundle, m.source ?? "");
    const kind = bindKind(m, source, field, dest);
    const index = sources.paths.push(source) - 1;
    sources.idmaps.push({ op: Op.IDMAP_SOURCE, ints: [index, opts.recursive ? 1 : 0, idmap.idmapRecursive ? 1 : 0], strs: [mapText(idmap.uid), mapText(idmap.gid), `${field} (${dest})`] });
    recs.push({ op: Op.IDMAP_MOUNT, ints: [kind, index], strs: [target, input.rootfs] });
    // Flags of the mount itself: mount_setattr on the attached tree's top, as the remount of a plain bind.
    const extra = opts.flags & BIND_REMOUNT_FLAGS;
    if (extra) recs.push(keepLocked(extra, target, input.rootfs));
  } else if (isBind) {
    if (!m.source) throw new ConfigError(`${field}/source`, "a bind mount needs a source");
    const source = isAbsolute(m.source) ? m.source : resolve(input.bundle, m.source);
    const bind = mount(MS.BIND | (opts.recursive ? MS.REC : 0), bindKind(m, source, field, dest), source, target, "", "", input.rootfs);
    if (input.sources?.plain) bind.ints!.push(input.sources.paths.push(source) - 1);
    // A bind mount takes no data (runc ignores what the options hold besides flags: mode=755 and the like).
    recs.push(bind);
    // mount(2) ignores most flags on a new bind mount: they take a second, remount call.
    const extra = opts.flags & BIND_REMOUNT_FLAGS;
    // Resolved inside the rootfs again: the path string could lead through a symlink out of it.
    if (extra && input.unprivileged) recs.push(keepLocked(extra, target, input.rootfs));
    else if (extra) recs.push(mount(MS.BIND | MS.REMOUNT | extra, MKDIR_NONE, "", target, "", "", input.rootfs));
  } else if (m.type === "sysfs" && input.userNs && !input.netns) {
    recs.push(...planSysBind(input, opts.flags, target));
  } else {
    if (!m.type) throw new ConfigError(`${field}/type`, `mount of ${dest} needs a type (or the bind option)`);
    checkOwnNamespace(input, m.type, dest, field);
    let flags = opts.flags;
    if (m.type === "sysfs" && !input.netns) flags |= MS.RDONLY;
    // As runc: a read-only /dev or tmpfs is mounted writable (files are made in it) and then made read-only
    // by a bind remount, so only the mount is read-only, not the filesystem. /dev waits until its nodes,
    // links and console exist (runc's finalizeRootfs); a tmpfs is remounted once its tmpcopyup is done.
    let remountRo: PlanRecord | undefined;
    if ((dest === "/dev" || m.type === "tmpfs") && flags & MS.RDONLY) {
      flags &= ~MS.RDONLY;
      const ro = MS.BIND | MS.REMOUNT | MS.RDONLY | (flags & BIND_REMOUNT_FLAGS);
      if (dest === "/dev") late.push(mount(ro, MKDIR_NONE, "", "/dev", "", "", "/"));
      else remountRo = mount(ro, MKDIR_NONE, "", target, "", "", input.rootfs);
    }
    let data = opts.data;
    if (input.mountLabel && LABELLED_FS.has(m.type)) data = [data, `context="${input.mountLabel}"`].filter(Boolean).join(",");
    // tmpcopyup: the directory is opened before the tmpfs hides it, and copied into the tmpfs after.
    if (opts.copyUp) recs.push(copyUp(0, target, input.rootfs));
    // A tmpfs over a directory of the image takes the directory's mode, whatever its mode= says (runc 1.1).
    recs.push(mount(flags, m.type === "tmpfs" ? MKDIR_DIR_KEEP_MODE : MKDIR_DIR, m.source ?? m.type, target, m.type, data, input.rootfs));
    if (opts.copyUp) recs.push(copyUp(1, target, input.rootfs));
    if (remountRo) recs.push(remountRo);
  }
  if (opts.attrSet || opts.attrClr) recs.push(setattr(opts.attrSet, opts.attrClr, target, input.rootfs));
  for (const p of opts.propagation) recs.push(mount(p, MKDIR_NONE, "", target, "", "", input.rootfs));
  return recs;
}

/** A bind's mount point: a file for a source that is not a directory (stat(2) of the source). */
function bindKind(m: ConfigMount, source: string, field: string, dest: string): number {
  if (!m.source) throw new ConfigError(`${field}/source`, "a bind mount needs a source");
  try {
    return m[SOURCE_MADE_AT_CREATE] === "file" || !statSync(source).isDirectory() ? MKDIR_FILE : MKDIR_DIR;
  } catch (e) {
    throw new PathError(source, `bind mount source of ${field} (${dest}): ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`);
  }
}

/** Filesystems whose mount the kernel allows only to a root of the user namespace that owns the namespace they
 *  show (fs_context's user_ns: proc a pid namespace's, mqueue an ipc namespace's), and that namespace. */
const SHOWS_NAMESPACE: Record<string, ["pid" | "ipc", string]> = { proc: ["pid", "processes"], mqueue: ["ipc", "message queues"] };

/**
 * A user namespace of the container's own with the caller's pid (or ipc) namespace: its root cannot mount proc
 * (mqueue), the kernel answers EPERM. Refused here, naming the mount (runc fails at the mount).
 */
function checkOwnNamespace(input: RootfsInput, fstype: string, dest: string, field: string): void {
  const shows = SHOWS_NAMESPACE[fstype];
  if (!shows || !input.userNs || (shows[0] === "pid" ? input.pidns : input.ipcns)) return;
  throw new ConfigError(
    field,
    `${fstype} at ${dest} needs the container's own ${shows[0]} namespace: in a user namespace of its own, the container may mount the ${shows[1]} only of a ${shows[0]} namespace made in it (add {"type": "${shows[0]}"} to /linux/namespaces, or drop the mount)`,
  );
}

/** Flags a remount may set on a tree of locked mounts without EPERM: not the atime ones (a changed atime mode is
 *  refused on a locked mount, and the host's mounts under /sys need not share one). */
const SETTABLE_ON_LOCKED = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOSYMFOLLOW;

/**
 * sysfs in a user namespace of the container's own without its own network namespace: the kernel mounts sysfs
 * only for the root of the user namespace that owns the network namespace (EPERM otherwise), so the host's
 * /sys is bound recursively instead (what `runc spec --rootless` writes; runc 1.1.5 itself fails), read-only
 * throughout as sysfs is without a network namespace of its own, with the other flags asked, on every mount.
 */
function planSysBind(input: RootfsInput, flags: number, target: string): PlanRecord[] {
  const { attrSet } = msToMountAttr((flags | MS.RDONLY) & SETTABLE_ON_LOCKED);
  return [mount(MS.BIND | MS.REC, MKDIR_DIR, "/sys", target, "", "", input.rootfs), setattr(attrSet, 0, target, input.rootfs)];
}

/**
 * `type: cgroup2` is the container's own cgroup of the v2 hierarchy (a fresh mount in its cgroup
 * namespace, else a bind of its directory).
 * `type: cgroup` is not one filesystem on a v1 or hybrid host: as runc does, make a tmpfs at the
 * destination with one mount per hierarchy in it. With a cgroup namespace each is a fresh cgroup mount
 * (the kernel shows the namespace's root); without, the container's own cgroup directory is bound.
 */
function planCgroupMount(input: RootfsInput, m: ConfigMount, dest: string, field: string): PlanRecord[] {
  const opts = parseMountOptions(m.options, `${field}/options`, "cgroup");
  if (opts.copyUp) throw new ConfigError(`${field}/options/${(m.options ?? []).indexOf("tmpcopyup")}`, "tmpcopyup applies to tmpfs mounts only");
  const target = inRoot(input.rootfs, dest);
  const flags = opts.flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME | MS.NOATIME | MS.STRICTATIME);
  const ro = (opts.flags & MS.RDONLY) !== 0;
  const recs: PlanRecord[] = [];
  const cg = input.cgroupMounts;

  const one = (c: CgroupFsMount, at: string): void => {
    const roFlag = ro ? MS.RDONLY : 0;
    if (input.cgroupns) {
      recs.push(mount(flags | roFlag, MKDIR_DIR, "cgroup", at, c.fstype, c.data, input.rootfs));
    } else {
      recs.push(mount(MS.BIND | MS.REC, MKDIR_DIR, c.hostDir, at, "", "", input.rootfs));
      if (input.unprivileged) {
        if ((flags | roFlag) & SETTABLE_ON_LOCKED) recs.push(keepLocked((flags | roFlag) & SETTABLE_ON_LOCKED, at, input.rootfs));
      } else recs.push(mount(MS.BIND | MS.REMOUNT | flags | roFlag, MKDIR_NONE, "", at, "", "", input.rootfs));
    }
  };

  if (m.type === "cgroup2") {
    if (!cg.cgroup2) throw new ConfigError(`${field}/type`, "this host has no cgroup2 hierarchy to mount");
    one(cg.cgroup2, target);
  } else if (!cg.cgroup.tmpfs) {
    for (const c of cg.cgroup.mounts) one(c, target);
  } else {
    recs.push(mount(flags, MKDIR_DIR, "tmpfs", target, "tmpfs", "mode=755", input.rootfs));
    for (const c of cg.cgroup.mounts) {
      one(c, join(target, c.sub));
      for (const link of c.links) recs.push({ op: Op.SYMLINK, ints: [1], strs: [c.sub, join(target, link), input.rootfs] });
    }
    if (ro) recs.push(mount(MS.REMOUNT | MS.RDONLY | flags, MKDIR_NONE, "", target, "", "", input.rootfs));
  }
  if (opts.attrSet || opts.attrClr) recs.push(setattr(opts.attrSet, opts.attrClr, target, input.rootfs));
  for (const p of opts.propagation) recs.push(mount(p, MKDIR_NONE, "", target, "", "", input.rootfs));
  return recs;
}
