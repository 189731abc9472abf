import { ConfigError } from "../errors.js";
import { MS } from "./mount-flags.js";

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

/** Options runc knows that need mount_setattr or copy-up: not yet implemented, refused clearly. */
const NOT_YET = /^(r(ro|rw|nosuid|suid|nodev|dev|noexec|exec|noatime|atime|relatime|norelatime|strictatime|nostrictatime|nodiratime|diratime|nosymfollow|symfollow)|tmpcopyup|idmap|ridmap|copy-symlink)$/;

/** Parse one mount's options. `field` is the JSON path used in errors (e.g. `/mounts/3/options`). */
export function parseMountOptions(options: readonly string[] | undefined, field: string): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let bind = false;
  let recursive = false;
  (options ?? []).forEach((opt, i) => {
    const known = FLAG_OPTIONS[opt];
    if (known) {
      flags = known[0] ? flags | known[1] : flags & ~known[1];
    } else if (opt === "bind" || opt === "rbind") {
      bind = true;
      if (opt === "rbind") recursive = true;
    } else if (opt in PROPAGATION_OPTIONS) {
      propagation.push(PROPAGATION_OPTIONS[opt]);
    } else if (NOT_YET.test(opt)) {
      throw new ConfigError(`${field}/${i}`, `mount option "${opt}" is not supported by this version of tsrun`);
    } else {
      data.push(opt);
    }
  });
  return { flags, propagation, data: data.join(","), bind, recursive };
}

/** Every option name parseMountOptions understands (reported by `tsrun features`). */
export const MOUNT_OPTION_NAMES: string[] = [...Object.keys(FLAG_OPTIONS), "bind", "rbind", ...Object.keys(PROPAGATION_OPTIONS)].sort();
