import { ConfigError } from "../errors.js";
import { MOUNT_ATTR, MS } from "./mount-flags.js";

/** What a mount's `options` list means to the kernel. */
export interface ParsedMountOptions {
  /** mount(2) flags for the mount itself (no propagation bits). */
  flags: number;
  /** Propagation flags to apply after the mount, in order (each a separate mount(2) call). */
  propagation: number[];
  /** Filesystem-specific options, comma-joined (tmpfs size/mode, devpts ptmxmode, ...). */
  data: string;
  /** The options asked for a bind mount (bind or rbind). */
  bind: boolean;
  recursive: boolean;
  /** mount_setattr(2) attributes for the whole tree (the r- options: rro, rnosuid, ratime, ...). */
  attrSet: number;
  attrClr: number;
  /** tmpcopyup: the new tmpfs starts with the contents of the directory it covers. */
  copyUp: boolean;
  /** The idmap or ridmap option (the last one given) and its index in the list: an idmapped bind mount,
   *  ridmap on every mount of the tree (src/fs/idmapped-mounts.ts). */
  idmap?: { recursive: boolean; index: number };
}

/** option -> [set?, flag]: set=true adds the flag, false clears it (so "rw" undoes an earlier "ro"). */
const FLAG_OPTIONS: Record<string, [boolean, number]> = {
  ro: [true, MS.RDONLY],
  rw: [false, MS.RDONLY],
  nosuid: [true, MS.NOSUID],
  suid: [false, MS.NOSUID],
  nodev: [true, MS.NODEV],
  dev: [false, MS.NODEV],
  noexec: [true, MS.NOEXEC],
  exec: [false, MS.NOEXEC],
  sync: [true, MS.SYNCHRONOUS],
  async: [false, MS.SYNCHRONOUS],
  dirsync: [true, MS.DIRSYNC],
  remount: [true, MS.REMOUNT],
  mand: [true, MS.MANDLOCK],
  nomand: [false, MS.MANDLOCK],
  noatime: [true, MS.NOATIME],
  atime: [false, MS.NOATIME],
  nodiratime: [true, MS.NODIRATIME],
  diratime: [false, MS.NODIRATIME],
  relatime: [true, MS.RELATIME],
  norelatime: [false, MS.RELATIME],
  strictatime: [true, MS.STRICTATIME],
  nostrictatime: [false, MS.STRICTATIME],
  nosymfollow: [true, MS.NOSYMFOLLOW],
  symfollow: [false, MS.NOSYMFOLLOW],
  lazytime: [true, MS.LAZYTIME],
  nolazytime: [false, MS.LAZYTIME],
  iversion: [true, MS.IVERSION],
  noiversion: [false, MS.IVERSION],
  silent: [true, MS.SILENT],
  loud: [false, MS.SILENT],
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** Recursive attribute options -> [set?, MOUNT_ATTR_* bit], applied to every mount of the tree. */
const REC_ATTR_OPTIONS: Record<string, [boolean, number]> = {
  rro: [true, MOUNT_ATTR.RDONLY],
  rrw: [false, MOUNT_ATTR.RDONLY],
  rnosuid: [true, MOUNT_ATTR.NOSUID],
  rsuid: [false, MOUNT_ATTR.NOSUID],
  rnodev: [true, MOUNT_ATTR.NODEV],
  rdev: [false, MOUNT_ATTR.NODEV],
  rnoexec: [true, MOUNT_ATTR.NOEXEC],
  rexec: [false, MOUNT_ATTR.NOEXEC],
  rnodiratime: [true, MOUNT_ATTR.NODIRATIME],
  rdiratime: [false, MOUNT_ATTR.NODIRATIME],
  rnosymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW],
  rsymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW],
};

/**
 * The atime options are one mode, not bits: mount_setattr changes it only with MOUNT_ATTR__ATIME in
 * attr_clr and exactly one mode in attr_set, and the last option wins. "Not noatime" and "not
 * strictatime" fall back to the kernel's default mode, relatime; "not relatime" means strictatime.
 */
const REC_ATIME_OPTIONS: Record<string, number> = {
  rnoatime: MOUNT_ATTR.NOATIME,
  ratime: MOUNT_ATTR.RELATIME,
  rrelatime: MOUNT_ATTR.RELATIME,
  rnorelatime: MOUNT_ATTR.STRICTATIME,
  rstrictatime: MOUNT_ATTR.STRICTATIME,
  rnostrictatime: MOUNT_ATTR.RELATIME,
};

/** Options runc knows that tsrun does not implement yet: refused by name. */
const NOT_YET = new Set(["copy-symlink"]);

/**
 * Filesystem data options tsrun lets through to mount(2), per filesystem type: `key=` for key=value
 * options, a bare word for flag-like ones. A word that is neither a mount flag nor in this table is
 * refused by name (runc passes it to the kernel, which answers EINVAL without saying which word).
 * Types not listed here (ext4, xfs, a FUSE type, ...) have options tsrun cannot know: their data
 * goes through unchecked (for a bind mount it is dropped).
 */
const DATA_OPTIONS: Record<string, readonly string[]> = {
  tmpfs: ["size=", "nr_blocks=", "nr_inodes=", "mode=", "uid=", "gid=", "mpol=", "huge=", "inode32", "inode64", "noswap", "quota", "usrquota", "grpquota", "usrquota_block_hardlimit=", "usrquota_inode_hardlimit=", "grpquota_block_hardlimit=", "grpquota_inode_hardlimit="],
  devpts: ["newinstance", "ptmxmode=", "mode=", "uid=", "gid=", "max="],
  mqueue: [],
  proc: ["hidepid=", "gid=", "subset="],
  sysfs: [],
  cgroup: ["none", "name=", "all", "noprefix", "release_agent=", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods", "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "hugetlb", "memory", "misc", "net_cls", "net_prio", "perf_event", "pids", "rdma"],
  cgroup2: ["nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot", "memory_hugetlb_accounting", "pids_localevents"],
  overlay: ["lowerdir=", "lowerdir+=", "datadir+=", "upperdir=", "workdir=", "redirect_dir=", "index=", "uuid=", "nfs_export=", "xino=", "metacopy=", "volatile", "userxattr", "default_permissions"],
  // Not "bind": a bind mount takes no data, and runc ignores whatever data its options hold (a "mode=755"
  // that a manager copies from a tmpfs), so tsrun accepts and drops it too.
};

/** LSM options every filesystem takes (the kernel handles them before the filesystem sees them). */
const GENERIC_DATA = ["context=", "fscontext=", "defcontext=", "rootcontext=", "seclabel"];

/** Whether `opt` is a data option that filesystem type `fstype` accepts (see DATA_OPTIONS). Pure. */
export function isKnownDataOption(fstype: string, opt: string): boolean {
  const known = DATA_OPTIONS[fstype];
  if (!known) return true;
  const eq = opt.indexOf("=");
  const key = eq >= 0 ? opt.slice(0, eq + 1) : opt;
  return known.includes(key) || GENERIC_DATA.includes(key);
}

/**
 * Parse one mount's options. `field` is the JSON path used in errors (e.g. `/mounts/3/options`);
 * `fstype` is the filesystem type whose data options are checked ("bind" for a bind mount; undefined
 * checks nothing).
 */
export function parseMountOptions(options: readonly string[] | undefined, field: string, fstype?: string): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let bind = false;
  let recursive = false;
  let attrSet = 0;
  let attrClr = 0;
  let copyUp = false;
  let idmap: ParsedMountOptions["idmap"];
  (options ?? []).forEach((opt, i) => {
    const known = FLAG_OPTIONS[opt];
    const rec = REC_ATTR_OPTIONS[opt];
    if (known) {
      flags = known[0] ? flags | known[1] : flags & ~known[1];
    } else if (opt === "bind" || opt === "rbind") {
      bind = true;
      if (opt === "rbind") recursive = true;
    } else if (opt in PROPAGATION_OPTIONS) {
      propagation.push(PROPAGATION_OPTIONS[opt]);
    } else if (rec) {
      // The last word about a bit wins, as for the plain flags.
      if (rec[0]) {
        attrSet |= rec[1];
        attrClr &= ~rec[1];
      } else {
        attrClr |= rec[1];
        attrSet &= ~rec[1];
      }
    } else if (opt in REC_ATIME_OPTIONS) {
      attrSet = (attrSet & ~MOUNT_ATTR._ATIME) | REC_ATIME_OPTIONS[opt];
      attrClr |= MOUNT_ATTR._ATIME;
    } else if (opt === "tmpcopyup") {
      copyUp = true;
    } else if (opt === "idmap" || opt === "ridmap") {
      idmap = { recursive: opt === "ridmap", index: i };
    } else if (NOT_YET.has(opt)) {
      throw new ConfigError(`${field}/${i}`, `mount option "${opt}" is not supported by this version of tsrun`);
    } else if (fstype !== undefined && !isKnownDataOption(fstype, opt)) {
      throw new ConfigError(`${field}/${i}`, `unknown mount option "${opt}" for a ${fstype === "bind" ? "bind mount" : `${fstype} mount`}`);
    } else {
      data.push(opt);
    }
  });
  return { flags, propagation, data: data.join(","), bind, recursive, attrSet, attrClr, copyUp, ...(idmap ? { idmap } : {}) };
}

/** Every option name parseMountOptions understands (reported by `tsrun features`). */
export const MOUNT_OPTION_NAMES: string[] = [
  ...Object.keys(FLAG_OPTIONS),
  "bind",
  "rbind",
  ...Object.keys(PROPAGATION_OPTIONS),
  ...Object.keys(REC_ATTR_OPTIONS),
  ...Object.keys(REC_ATIME_OPTIONS),
  "tmpcopyup",
  "idmap",
  "ridmap",
].sort();
