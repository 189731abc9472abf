import { existsSync, readFileSync } from "node:fs";
import { passwdEntry } from "./passwd.js";

/** A range of subordinate ids a user may map (/etc/subuid, /etc/subgid): start..start+count-1. */
export interface SubIdRange {
  start: number;
  count: number;
}

/**
 * The ranges of `name` (or its uid, which shadow's tools accept too) in a subuid/subgid file's text.
 * Malformed lines are skipped, as newuidmap does. Pure.
 */
export function parseSubIds(text: string, name: string | undefined, id: number): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const line of text.split("\n")) {
    const [owner, start, count] = line.trim().split(":");
    if (owner === undefined || start === undefined || count === undefined) continue;
    if (owner !== name && owner !== String(id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isSafeInteger(s) && Number.isSafeInteger(c) && s >= 0 && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

/** The user name of `uid` from /etc/passwd, or undefined. */
export function userName(uid: number, passwd = "/etc/passwd"): string | undefined {
  try {
    return passwdEntry(readFileSync(passwd, "utf8"), uid)?.name;
  } catch {
    return undefined; // no passwd file: ids only
  }
}

/** What a non-root caller may put in its id maps, and the helpers that write wider ones. */
export interface IdMapFacts {
  euid: number;
  egid: number;
  name?: string;
  subuids: SubIdRange[];
  subgids: SubIdRange[];
  /** Paths of newuidmap/newgidmap (Debian package uidmap), when installed. */
  newuidmap?: string;
  newgidmap?: string;
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

const which = (name: string) => ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map((d) => `${d}/${name}`).find((p) => existsSync(p));

/** This caller's facts (read only for a non-root caller that makes a user namespace). */
export function idMapFacts(euid: number, egid: number): IdMapFacts {
  const name = userName(euid);
  return {
    euid,
    egid,
    name,
    subuids: parseSubIds(readOr("/etc/subuid"), name, euid),
    subgids: parseSubIds(readOr("/etc/subgid"), name, euid),
    newuidmap: which("newuidmap"),
    newgidmap: which("newgidmap"),
  };
}
