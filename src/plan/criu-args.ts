/**
 * checkpoint and restore with CRIU, phase 1: runc's flags -> the `criu` command lines, and what the
 * container's config says CRIU must be told (external mounts). Pure: no file is read here.
 *
 * CRIU is driven through its CLI, not `criu swrk` RPC: every runc option has a documented CLI flag,
 * the CLI needs no protobuf encoder (no new dependency, no hand-written wire format to keep in step
 * with CRIU's), and a failure leaves a log a user can read. What only RPC gives is the pty master of
 * a terminal container (the "orphan-pts-master" notification), so terminal containers are refused.
 */
import { UsageError } from "../errors.js";
import type { Mount, Spec } from "../spec/types.js";

export const MANAGE_CGROUPS_MODES = ["soft", "full", "strict", "ignore"] as const;
export type ManageCgroupsMode = (typeof MANAGE_CGROUPS_MODES)[number];

/** The flags checkpoint and restore share (runc's). */
export interface CriuCommonFlags {
  imagePath: string;
  workPath?: string;
  tcpEstablished?: boolean;
  extUnixSk?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  manageCgroupsMode?: string;
  /** --empty-ns: namespaces CRIU leaves to the runtime (runc: only "network"). */
  emptyNs?: readonly string[];
  autoDedup?: boolean;
}

export interface CheckpointFlags extends CriuCommonFlags {
  leaveRunning?: boolean;
  preDump?: boolean;
  /** --parent-path: the previous (pre-)dump, relative to the image path (as CRIU's --prev-images-dir). */
  parentPath?: string;
}

export interface RestoreFlags extends CriuCommonFlags {
  bundle: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
}

/** The file in the image directory where checkpoint records what restore checks the bundle against. */
export const IMAGE_NOTE = "tsrun-checkpoint.json";
/** runc's name: the targets of the init's fds 0-2 at dump time (restore passes its own in their place). */
export const DESCRIPTORS = "descriptors.json";

/** What checkpoint writes in IMAGE_NOTE. */
export interface ImageNote {
  id: string;
  bundle: string;
  /** The container's mounts CRIU was told are external (destinations), sorted. */
  externalMounts: string[];
  /** The namespaces the container joined by path (CRIU treats their objects as external), sorted. */
  joinedNamespaces: string[];
  /** The init's fds 0-2 that were files outside the container (a manager's /dev/null, a log file):
   *  CRIU's external-file keys, which restore binds to its own fds 0-2. */
  externalStdio: ExternalStdio[];
}

/** One of the init's stdio files CRIU was told is external, as restore needs it. */
export interface ExternalStdio {
  fd: number;
  key: string;
  /** What it was (the link text) and its st_mode: CRIU takes only a file of that mode in its place. */
  path: string;
  mode: number;
}

/** One of the init's fds 0-2 as /proc shows it. */
export interface StdioFd {
  fd: number;
  /** The link text (/proc/PID/fd/N). */
  link: string;
  /** mnt_id of /proc/PID/fdinfo/N, and the inode of the file. */
  mntId: number;
  ino: number;
  mode: number;
}

/**
 * Stdio files the container cannot see (opened on a mount outside its mount namespace, such as the
 * caller's /dev/null): CRIU cannot dump them by path, so they are named as external files
 * (`file[<mnt_id>:<inode>]`, hex) and restore passes its own fd in their place. Pipes and sockets
 * are dumped by CRIU and passed again by descriptors.json (stdioInherits).
 */
export function externalStdio(fds: readonly StdioFd[], containerMountIds: ReadonlySet<number>): ExternalStdio[] {
  return fds
    .filter((f) => f.link.startsWith("/") && !containerMountIds.has(f.mntId))
    .map((f) => ({ fd: f.fd, key: `file[${f.mntId.toString(16)}:${f.ino.toString(16)}]`, path: f.link, mode: f.mode }));
}

export function checkManageCgroupsMode(mode: string | undefined): ManageCgroupsMode | undefined {
  if (mode === undefined || mode === "") return undefined;
  if (!(MANAGE_CGROUPS_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`--manage-cgroups-mode must be one of ${MANAGE_CGROUPS_MODES.join(", ")}, not "${mode}"`);
  }
  return mode as ManageCgroupsMode;
}

/** --empty-ns: runc knows "network" only (CRIU then leaves the network namespace for the runtime to make). */
export function checkEmptyNs(list: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const n of list ?? []) {
    if (n !== "network") throw new UsageError(`--empty-ns: only "network" is supported, not "${n}"`);
    out.push("net");
  }
  return out;
}

function isBind(m: Mount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

/**
 * The mounts CRIU cannot dump itself: binds whose source is outside the container (runc's rule: every
 * bind mount of the config). Each is named by its destination, the key CRIU records in the image;
 * restore binds the key's source there again. Masked files are binds of the container's own
 * /dev/null and read-only paths binds of paths inside: CRIU sees their sources and needs no help.
 */
export function externalMounts(spec: Pick<Spec, "mounts">): { destination: string; source: string }[] {
  const out: { destination: string; source: string }[] = [];
  for (const m of spec.mounts ?? []) {
    if (!isBind(m) || m.source === undefined) continue;
    out.push({ destination: m.destination, source: m.source });
  }
  return out;
}

/** CRIU's names of the namespaces a config joins by path that CRIU must treat as external (a manager's
 *  network namespace: runc does the same; a joined pid namespace CRIU cannot restore into, see refusals). */
const EXTERNAL_NS: Record<string, string> = { network: "net" };

export function joinedNamespaces(spec: Pick<Spec, "linux">): { type: string; criu: string; path: string }[] {
  return (spec.linux?.namespaces ?? [])
    .filter((n) => n.path && EXTERNAL_NS[n.type])
    .map((n) => ({ type: n.type, criu: EXTERNAL_NS[n.type], path: n.path! }));
}

function common(f: CriuCommonFlags, action: string): string[] {
  const args = ["-D", f.imagePath, "-v4", "-o", `${action}.log`];
  if (f.workPath) args.push("--work-dir", f.workPath);
  if (f.tcpEstablished) args.push("--tcp-established");
  if (f.extUnixSk) args.push("--ext-unix-sk");
  if (f.shellJob) args.push("--shell-job");
  if (f.fileLocks) args.push("--file-locks");
  if (f.autoDedup) args.push("--auto-dedup");
  const mode = checkManageCgroupsMode(f.manageCgroupsMode);
  if (mode) args.push(`--manage-cgroups=${mode}`);
  else args.push("--manage-cgroups");
  return args;
}

export interface DumpInput {
  pid: number;
  rootfs: string;
  spec: Pick<Spec, "mounts" | "linux">;
  /** Inode of each joined namespace (the `ns` names of joinedNamespaces), read by the caller. */
  nsInodes: Record<string, number>;
  /** externalStdio's keys. */
  externalFiles: readonly string[];
}

/** `criu dump` (or `pre-dump`) for the container's init. */
export function dumpArgs(f: CheckpointFlags, input: DumpInput): string[] {
  const args = [f.preDump ? "pre-dump" : "dump", "-t", String(input.pid), ...common(f, f.preDump ? "pre-dump" : "dump")];
  args.push("--root", input.rootfs);
  if (f.parentPath) args.push("--prev-images-dir", f.parentPath);
  // Memory tracking makes the next dump write only what changed (runc asks it for every pre-dump, and
  // for a dump with a parent).
  if (f.preDump || f.parentPath) args.push("--track-mem");
  if (f.preDump) return args;
  if (f.leaveRunning) args.push("--leave-running");
  for (const m of externalMounts(input.spec)) args.push("--external", `mnt[${m.destination}]:${m.destination}`);
  for (const n of joinedNamespaces(input.spec)) {
    const ino = input.nsInodes[n.criu];
    if (ino !== undefined) args.push("--external", `${n.criu}[${ino}]:ext-${n.criu}`);
  }
  for (const key of input.externalFiles) args.push("--external", key);
  for (const ns of checkEmptyNs(f.emptyNs)) args.push("--empty-ns", ns);
  return args;
}

export interface RestoreInput {
  /** The root CRIU restores into (a mount point). */
  root: string;
  spec: Pick<Spec, "mounts" | "linux">;
  pidFile: string;
  /** The container's cgroup (path inside each hierarchy); "" when it has none of its own. */
  cgroupPath: string;
  /** fds of this process that stand for the image's external objects: key -> fd (inherited by criu). */
  inheritFds: { fd: number; key: string }[];
}

/** `criu restore`, detached: the restored init is reparented to our subreaper, as a created init is. */
export function restoreArgs(f: RestoreFlags, input: RestoreInput): string[] {
  const args = ["restore", ...common(f, "restore"), "-d", "--root", input.root, "--pidfile", input.pidFile];
  for (const m of externalMounts(input.spec)) args.push("--external", `mnt[${m.destination}]:${m.source}`);
  if (input.cgroupPath) args.push("--cgroup-root", input.cgroupPath);
  for (const { fd, key } of input.inheritFds) args.push("--inherit-fd", `fd[${fd}]:${key}`);
  for (const ns of checkEmptyNs(f.emptyNs)) args.push("--empty-ns", ns);
  if (f.noPivot) args.push("--no-pivot");
  return args;
}

/**
 * The init's stdio at dump time (descriptors.json, runc's format: the link text of fds 0-2) -> the
 * `--inherit-fd` keys for those that were pipes or sockets (a manager's, which restore's caller passes
 * again as its own fds 0-2). Files are reopened by CRIU by path.
 */
export function stdioInherits(descriptors: unknown): { fd: number; key: string }[] {
  if (!Array.isArray(descriptors)) return [];
  const out: { fd: number; key: string }[] = [];
  descriptors.slice(0, 3).forEach((d, fd) => {
    if (typeof d === "string" && /^(pipe|socket):\[[0-9]+\]$/.test(d)) out.push({ fd, key: d });
  });
  return out;
}

/**
 * The lines of a CRIU log worth one line of ours: its first error (the cause) and its last (what
 * failed). Errors of CRIU's feature probes (tun.c: no /dev/net/tun on many hosts) are noise every
 * run logs, left out.
 */
export function criuLogErrors(log: string): string[] {
  const errors = log
    .split("\n")
    .filter((l) => /^\([0-9. ]+\) +(?:[0-9]+: )?Error |^Error /.test(l) && !l.includes("(criu/tun.c:"))
    .map((l) => l.replace(/^\([0-9. ]+\) +(?:[0-9]+: )?/, "").trim());
  if (errors.length <= 1) return errors;
  return [errors[0], errors[errors.length - 1]];
}

/** Restore's check of the image against the bundle: what differs, or undefined. */
export function imageMismatch(note: ImageNote, spec: Pick<Spec, "mounts" | "linux">): string | undefined {
  const mounts = externalMounts(spec).map((m) => m.destination).sort();
  const ns = joinedNamespaces(spec).map((n) => n.type).sort();
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(mounts, note.externalMounts)) {
    return `it was checkpointed from container ${note.id} with bind mounts [${note.externalMounts.join(", ")}], the bundle has [${mounts.join(", ")}]`;
  }
  if (!same(ns, note.joinedNamespaces)) {
    return `it was checkpointed from container ${note.id} with joined namespaces [${note.joinedNamespaces.join(", ")}], the bundle has [${ns.join(", ")}]`;
  }
  return undefined;
}
