import { posix } from "node:path";
import { ConfigError } from "../errors.js";
import type { LinuxDevice } from "../spec/types.js";

/** A device node to make in the container's /dev. */
export interface DeviceNode {
  path: string;
  /** st_mode: file type bits | permission bits. */
  mode: number;
  major: number;
  minor: number;
  uid: number;
  gid: number;
}

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** The devices every Linux container gets (config-linux.md "Default Devices"). */
export const DEFAULT_DEVICES: readonly DeviceNode[] = [
  ["null", 1, 3], ["zero", 1, 5], ["full", 1, 7], ["random", 1, 8], ["urandom", 1, 9], ["tty", 5, 0],
].map(([name, major, minor]) => ({ path: `/dev/${name}`, mode: S_IFCHR | 0o666, major: major as number, minor: minor as number, uid: 0, gid: 0 }));

/** Symlinks made in /dev after the devices (runc makes the same set). An existing file is kept, except
 *  at /dev/ptmx: the link to the container's own devpts replaces it (a privileged pod's linux.devices
 *  lists the host's 5:2 node there; runc's setupPtmx removes it). */
export const DEV_SYMLINKS: readonly [target: string, link: string, replace: boolean][] = [
  ["/proc/self/fd", "/dev/fd", false],
  ["/proc/self/fd/0", "/dev/stdin", false],
  ["/proc/self/fd/1", "/dev/stdout", false],
  ["/proc/self/fd/2", "/dev/stderr", false],
  ["pts/ptmx", "/dev/ptmx", true],
];


/** linux.devices -> nodes, with the defaults added unless the config names the same path. Pure. */
export function deviceNodes(devices: readonly LinuxDevice[] | undefined): DeviceNode[] {
  const out = new Map<string, DeviceNode>();
  for (const d of DEFAULT_DEVICES) out.set(d.path, d);
  (devices ?? []).forEach((d, i) => {
    const field = `/linux/devices/${i}`;
    const typeBits = d.type === "c" || d.type === "u" ? S_IFCHR : d.type === "b" ? S_IFBLK : d.type === "p" ? S_IFIFO : -1;
    if (typeBits < 0) throw new ConfigError(`${field}/type`, `unknown device type "${d.type}" (c, b, u or p)`);
    if (!posix.normalize(d.path).startsWith("/dev/")) throw new ConfigError(`${field}/path`, `device path must be under /dev: ${d.path}`);
    if (typeBits !== S_IFIFO && (d.major === undefined || d.minor === undefined)) {
      throw new ConfigError(field, "major and minor are required for a c, u or b device");
    }
    out.set(d.path, {
      path: d.path,
      mode: typeBits | ((d.fileMode ?? 0o666) & 0o7777),
      major: d.major ?? 0,
      minor: d.minor ?? 0,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
    });
  });
  return [...out.values()];
}
