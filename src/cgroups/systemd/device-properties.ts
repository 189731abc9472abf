import { type DeviceRule, WILDCARD } from "../devices-rules.js";
import type { UnitProperty } from "./properties.js";

/** Major numbers by name from /proc/devices: "char-pts" is how systemd names every minor of a major. */
export interface MajorNames {
  char: ReadonlyMap<number, string>;
  block: ReadonlyMap<number, string>;
}

/**
 * DevicePolicy and DeviceAllow for the container's device rules. systemd's list can only allow, so
 * it is the allow rules (a deny narrows nothing in it): a superset of what the rules let through.
 * The exact rules, last match per access bit, are tsrun's own eBPF program, attached next to
 * systemd's (a device must pass both). Rules that allow every device give policy "auto" with no list,
 * as runc does (privileged containers).
 */
export function deviceProperties(rules: readonly DeviceRule[], names: MajorNames): UnitProperty[] {
  if (allowsEverything(rules)) return [{ name: "DevicePolicy", type: "s", value: "auto" }];
  const allow = new Map<string, Set<string>>();
  const add = (spec: string, access: string) => {
    const set = allow.get(spec) ?? new Set<string>();
    for (const c of access) set.add(c);
    allow.set(spec, set);
  };
  for (const r of rules) {
    if (!r.allow) continue;
    for (const type of r.type === "a" ? (["c", "b"] as const) : [r.type]) add(deviceSpec(type, r.major, r.minor, names), r.access);
  }
  const list = [...allow].map(([spec, set]) => [spec, "rwm".split("").filter((c) => set.has(c)).join("")]);
  return [
    { name: "DevicePolicy", type: "s", value: "strict" },
    { name: "DeviceAllow", type: "a(ss)", value: list },
  ];
}

/** After the last deny, wildcard allows cover every access bit of both device types. */
function allowsEverything(rules: readonly DeviceRule[]): boolean {
  let lastDeny = -1;
  rules.forEach((r, i) => {
    if (!r.allow) lastDeny = i;
  });
  const after = rules.slice(lastDeny + 1).filter((r) => r.major === WILDCARD && r.minor === WILDCARD);
  return (["c", "b"] as const).every((type) => [..."rwm"].every((bit) => after.some((r) => (r.type === "a" || r.type === type) && r.access.includes(bit))));
}

/** One DeviceAllow entry: "/dev/char/1:3", "char-pts" (every minor of a named major), "char-*". */
function deviceSpec(type: "c" | "b", major: number, minor: number, names: MajorNames): string {
  const group = type === "c" ? "char" : "block";
  if (major === WILDCARD) return `${group}-*`;
  if (minor === WILDCARD) {
    // A major /proc/devices does not name cannot be written for systemd: allow the whole type there
    // (the eBPF program still holds the container to its own rules).
    const name = (type === "c" ? names.char : names.block).get(major);
    return name ? `${group}-${name}` : `${group}-*`;
  }
  return `/dev/${group}/${major}:${minor}`;
}

/** /proc/devices' text -> majors by name ("Character devices:" then "Block devices:" sections). */
export function parseProcDevices(text: string): MajorNames {
  const char = new Map<number, string>();
  const block = new Map<number, string>();
  let section: Map<number, string> | undefined;
  for (const line of text.split("\n")) {
    if (/^Character devices:/.test(line)) section = char;
    else if (/^Block devices:/.test(line)) section = block;
    else {
      const m = /^\s*(\d+)\s+(\S+)$/.exec(line);
      // The first name wins: systemd resolves "char-<name>" to every major of that name anyway.
      if (m && section && !section.has(Number(m[1]))) section.set(Number(m[1]), m[2]);
    }
  }
  return { char, block };
}
