import { ConfigError } from "../errors.js";
import type { LinuxIntelRdt } from "../spec/types.js";

/** Where runc, crun and tsrun look for the resctrl filesystem. */
export const RESCTRL_ROOT = "/sys/fs/resctrl";

/** One write into resctrl: `value` into `file` (absolute). `pid` means the container's host pid. */
export interface ResctrlWrite {
  file: string;
  value: string | "pid";
}

/**
 * What linux.intelRdt asks of a resctrl filesystem at `root`, as runtime-spec 1.3 and runc 1.4 read it:
 * the CLOS group (a directory), whether tsrun makes it (and so removes it on delete) or it must already
 * be there, the ordered writes, and the monitoring group.
 */
export interface IntelRdtPlan {
  /** The CLOS group directory: root itself for the default CLOS (closID "/"). */
  group: string;
  /** "make": mkdir it (delete removes it); "exists": it must be there already (pre-configured, or root). */
  groupIs: "make" | "exists";
  /** enableMonitoring: the container's own monitoring group, made under group/mon_groups/ and removed on delete. */
  monGroup?: string;
  /** In order: the schemata (if any schema is given), then the pid into the tasks file of the mon group or the group. */
  writes: ResctrlWrite[];
  /** Directories delete removes, innermost first. */
  remove: string[];
}

/**
 * linux.intelRdt -> the resctrl plan. `root`: where resctrl is mounted (undefined: it is not, and the
 * field is refused naming it, as config-linux.md requires). Rules (config-linux.md, 1.3):
 * - closID "/" is the default CLOS, the resctrl root: nothing is made or removed;
 * - closID names the group; without it the group is the container id;
 * - closID with no schema at all: a pre-configured group that must exist (error otherwise);
 * - the schemata file gets l3CacheSchema (without its MB: lines when memBwSchema is given), memBwSchema,
 *   then each line of schemata (an array of lines); nothing is written when none is given;
 * - enableMonitoring (or the older enableCMT/enableMBM): mon_groups/<id> of the group, the pid goes there.
 */
export function planIntelRdt(rdt: LinuxIntelRdt, id: string, root: string | undefined, field = "/linux/intelRdt"): IntelRdtPlan {
  if (!root) throw new ConfigError(field, `Intel RDT needs the resctrl filesystem, and none is mounted (${RESCTRL_ROOT})`);
  const closID = rdt.closID ?? "";
  if (closID !== "/" && (closID.includes("/") || closID === "." || closID === "..")) {
    throw new ConfigError(`${field}/closID`, `"${closID}" is not a group name ("/" is the default CLOS)`);
  }
  const lines: string[] = [];
  const mb = rdt.memBwSchema?.trim();
  for (const l of (rdt.l3CacheSchema ?? "").split("\n").map((x) => x.trim()).filter(Boolean)) {
    if (!(mb && /^MB:/.test(l))) lines.push(l);
  }
  if (mb) lines.push(mb);
  lines.push(...(rdt.schemata ?? []).map((x) => x.trim()).filter(Boolean));

  const isDefault = closID === "/";
  const group = isDefault ? root : `${root}/${closID || id}`;
  const groupIs = isDefault || (closID && !lines.length) ? "exists" : "make";
  if (isDefault && lines.length) throw new ConfigError(`${field}/closID`, "the default CLOS (\"/\") is the host's: no schema may be given for it");
  const writes: ResctrlWrite[] = [];
  if (lines.length) writes.push({ file: `${group}/schemata`, value: lines.join("\n") + "\n" });
  const monitoring = rdt.enableMonitoring || rdt.enableCMT || rdt.enableMBM;
  const monGroup = monitoring ? `${group}/mon_groups/${id}` : undefined;
  writes.push({ file: `${monGroup ?? group}/tasks`, value: "pid" });
  const remove = [...(monGroup ? [monGroup] : []), ...(groupIs === "make" ? [group] : [])];
  return { group, groupIs, ...(monGroup ? { monGroup } : {}), writes, remove };
}

/** Where resctrl is mounted, from /proc/self/mountinfo text (fstype resctrl); undefined when it is not. */
export function resctrlMount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (post?.split(" ")[0] === "resctrl") return pre.split(" ")[4];
  }
  return undefined;
}
