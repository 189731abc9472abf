import { posix } from "node:path";
import { ConfigError } from "../../errors.js";

/** The systemd unit a container's cgroup is, as the record keeps it: every verb finds the unit from it. */
export interface SystemdUnit {
  /** The transient unit: "<prefix>-<name>.scope". */
  unit: string;
  /** The slice it goes in ("system.slice"; "-.slice" is the root slice). */
  slice: string;
  /** On the caller's own systemd instance (rootless: the user bus), not the system's. */
  user?: boolean;
}

const FORMAT = '"slice:prefix:name" for the systemd cgroup driver';

/**
 * `linux.cgroupsPath` as runc's systemd driver reads it: "slice:prefix:name", exactly three parts; empty
 * means "system.slice:tsrun:<id>" (rootless: "user.slice", the user's own manager). The unit is
 * "<prefix>-<name>.scope". A `name` that is a slice is refused: runc passes it on and systemd then
 * refuses the init's pid (a slice holds no processes of its own).
 */
export function systemdUnitFor(id: string, cgroupsPath: string | undefined, user: boolean): SystemdUnit {
  const defaultSlice = user ? "user.slice" : "system.slice";
  if (!cgroupsPath) return { unit: `tsrun-${id}.scope`, slice: defaultSlice, ...(user ? { user } : {}) };
  const parts = cgroupsPath.split(":");
  if (parts.length !== 3) throw new ConfigError("/linux/cgroupsPath", `must be ${FORMAT}, not ${JSON.stringify(cgroupsPath)}`);
  const [slice, prefix, name] = parts;
  if (slice) expandSlice(slice);
  if (!name) throw new ConfigError("/linux/cgroupsPath", `the name part of ${JSON.stringify(cgroupsPath)} is empty (${FORMAT})`);
  if (name.endsWith(".slice")) {
    throw new ConfigError("/linux/cgroupsPath", `the name part of ${JSON.stringify(cgroupsPath)} is a slice; a container's unit is a scope (name it without ".slice")`);
  }
  const unit = `${prefix}-${name}.scope`;
  checkUnitName(unit, cgroupsPath);
  return { unit, slice: slice || defaultSlice, ...(user ? { user } : {}) };
}

/** systemd's unit name alphabet (unit_name_is_valid): ASCII letters, digits, ":-_.\\", at most 255. */
function checkUnitName(unit: string, cgroupsPath: string): void {
  if (unit.length > 255 || !/^[A-Za-z0-9:_.\\-]+$/.test(unit) || unit.startsWith(".")) {
    throw new ConfigError("/linux/cgroupsPath", `${JSON.stringify(cgroupsPath)} gives the unit name ${JSON.stringify(unit)}, which systemd does not accept`);
  }
}

/**
 * A slice's cgroup path: systemd nests slices by their dashes, so "a-b-c.slice" is
 * /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root. Errors name linux.cgroupsPath.
 */
export function expandSlice(slice: string): string {
  const bad = (why: string) => new ConfigError("/linux/cgroupsPath", `invalid slice ${JSON.stringify(slice)}: ${why}`);
  if (!slice.endsWith(".slice") || slice === ".slice") throw bad('a slice name ends in ".slice"');
  if (slice.includes("/")) throw bad("a slice name has no slashes (nesting is written with dashes: a-b.slice)");
  const base = slice.slice(0, -".slice".length);
  if (base === "-") return "/";
  const parts = base.split("-");
  if (parts.some((p) => p === "")) throw bad('empty part between dashes (as "a--b.slice" or "-a.slice")');
  let path = "";
  for (let i = 1; i <= parts.length; i++) path += `/${parts.slice(0, i).join("-")}.slice`;
  return path;
}

/**
 * The container's cgroup path in the cgroup2 hierarchy: the slice's path, then the unit. `managerBase`
 * is the cgroup of the systemd instance the unit belongs to ("" for the system's; a user's manager
 * has its own, e.g. /user.slice/user-1000.slice/user@1000.service).
 */
export function systemdCgroupPath(u: SystemdUnit, managerBase = ""): string {
  return posix.join("/", managerBase, expandSlice(u.slice), u.unit);
}
