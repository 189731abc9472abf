import { posix } from "node:path";
import { ConfigError } from "../errors.js";
import { DEFAULT_PARENT } from "./cgroupfs.js";

/**
 * The container's cgroup path inside each hierarchy. `linux.cgroupsPath` absolute is used as given
 * (podman's /libpod_parent/libpod-<id>, ctr's /<ns>/<id>); relative is taken from the hierarchy root
 * too; absent means /tsrun/<id>. `relativeBase` (rootless on a cgroup v2 host: rootlessCgroupBase in
 * access.ts): a relative path goes below it, and an absent one is the id there, as runc's fs2 driver.
 */
export function cgroupPathFor(id: string, cgroupsPath: string | undefined, relativeBase?: string): string {
  const underBase = relativeBase !== undefined && !cgroupsPath?.startsWith("/");
  if (!underBase && (cgroupsPath === undefined || cgroupsPath === "")) return `${DEFAULT_PARENT}/${id}`;
  const given = cgroupsPath || id;
  const p = posix.normalize(posix.join("/", underBase ? relativeBase : "", given)).replace(/(.)\/$/, "$1");
  if (p === "/") throw new ConfigError("/linux/cgroupsPath", "must name a cgroup below the root");
  if (given.split("/").includes("..")) throw new ConfigError("/linux/cgroupsPath", `must not contain "..": ${cgroupsPath}`);
  return p;
}
