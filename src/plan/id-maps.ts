import { ConfigError, HostError } from "../errors.js";
import type { IdMapFacts, SubIdRange } from "../security/subids.js";
import type { IdMapping } from "./namespaces.js";

/** How one of the init's id maps gets written. */
export type IdMapWrite =
  /** tsrun writes /proc/<pid>/{uid,gid}_map itself: host root, or one line mapping the caller's own id. */
  | { via: "write"; text: string }
  /** Through the setuid helper (newuidmap/newgidmap), which checks the ranges against /etc/sub[ug]id. */
  | { via: "helper"; helper: string; args: string[]; text: string };

export interface IdMapPlan {
  uid: IdMapWrite;
  gid: IdMapWrite;
  /**
   * "deny" is in the namespace's setgroups file before the container runs: the kernel requires it for a
   * gid map an unprivileged caller writes itself, and newgidmap writes it when a range is allowed only as
   * the caller's own gid. The init must then not call setgroups (and no additionalGids can be given).
   */
  setgroupsDenied: boolean;
}

export function idMapText(m: readonly IdMapping[]): string {
  return m.map((x) => `${x.containerID} ${x.hostID} ${x.size}\n`).join("");
}

const within = (m: IdMapping, ranges: readonly SubIdRange[]) =>
  ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);

const describe = (ranges: readonly SubIdRange[]) =>
  ranges.length ? ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(", ") : "none";

/**
 * The writes of a new user namespace's maps. Host root (`facts` absent) writes them as given. Any
 * other caller may write one line mapping its own id; anything wider goes through newuidmap/newgidmap,
 * and each range must be the caller's own id or inside its subordinate ranges: checked here, so a map
 * the user may not use is a ConfigError naming the entry before anything is made. Pure.
 */
export function planIdMaps(uid: readonly IdMapping[], gid: readonly IdMapping[], facts?: IdMapFacts): IdMapPlan {
  if (!facts) return { uid: { via: "write", text: idMapText(uid) }, gid: { via: "write", text: idMapText(gid) }, setgroupsDenied: false };
  const who = `uid ${facts.euid}${facts.name ? ` (${facts.name})` : ""}`;
  const one = (kind: "uid" | "gid", maps: readonly IdMapping[], own: number, subs: readonly SubIdRange[], helper: string | undefined) => {
    const field = kind === "uid" ? "/linux/uidMappings" : "/linux/gidMappings";
    const file = kind === "uid" ? "/etc/subuid" : "/etc/subgid";
    const text = idMapText(maps);
    if (maps.length === 1 && maps[0].hostID === own && maps[0].size === 1) return { write: { via: "write", text } as IdMapWrite, selfOnly: true };
    let selfOnly = false;
    maps.forEach((m, i) => {
      if (within(m, subs)) return;
      if (m.hostID === own && m.size === 1) {
        selfOnly = true;
        return;
      }
      const hosts = m.size === 1 ? `host ${kind} ${m.hostID}` : `host ${kind}s ${m.hostID}-${m.hostID + m.size - 1}`;
      throw new ConfigError(
        `${field}/${i}`,
        `maps ${hosts}, which ${who} may not use: only its own ${kind} ${own} and its ranges in ${file} (${describe(subs)})`,
      );
    });
    const name = kind === "uid" ? "newuidmap" : "newgidmap";
    if (!helper) throw new HostError(`${field}: a map of more than your own ${kind} needs ${name} (Debian package uidmap), which is not installed`);
    const args = maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)]);
    return { write: { via: "helper", helper, args, text } as IdMapWrite, selfOnly };
  };
  const u = one("uid", uid, facts.euid, facts.subuids, facts.newuidmap);
  const g = one("gid", gid, facts.egid, facts.subgids, facts.newgidmap);
  return { uid: u.write, gid: g.write, setgroupsDenied: g.selfOnly };
}
