import { ConfigError } from "../errors.js";
import type { LinuxDevice, LinuxDeviceCgroup } from "../spec/types.js";

/**
 * The device rules of a container (config-linux.md "Allowed Device"), shared by the cgroup v1 writer
 * (devices-v1.ts) and the cgroup v2 eBPF program (devices-bpf.ts).
 *
 * Semantics, the same on both versions (the reference is `decide` below, which the tests compare
 * the v1 lines and the eBPF program against): each access bit asked for (r, w, m) is judged on its
 * own by the LAST rule that matches the device and names that bit; a bit no rule names is denied; the
 * access is allowed only when every bit asked for is.
 */

/** -1 = any major or minor. */
export const WILDCARD = -1;

export interface DeviceRule {
  allow: boolean;
  /** "a" = char and block. */
  type: "a" | "c" | "b";
  major: number;
  minor: number;
  /** Non-empty subset of "rwm", in that order. */
  access: string;
  /** Where the rule came from, for error messages: a JSON path or "default". */
  source: string;
}

/**
 * runc's built-in rules (libcontainer/specconv AllowedDevices), which runc appends AFTER the config's
 * rules, so that a config starting with a deny-all (as podman's does) still gets a usable /dev: mknod
 * of anything (the node is useless without r/w), null, random, full, tty, zero, urandom, the pty
 * slaves (136:*) and ptmx, and the tun device. Because they come last, a config cannot deny them
 * (as with runc). `path`: the default node the rule is for; runc drops such a rule when
 * `linux.devices` names the same path (the config's node "takes priority", its access included).
 */
const DEFAULTS: readonly [type: "c" | "b", major: number, minor: number, access: string, path?: string][] = [
  ["c", WILDCARD, WILDCARD, "m"],
  ["b", WILDCARD, WILDCARD, "m"],
  ["c", 1, 3, "rwm", "/dev/null"],
  ["c", 1, 8, "rwm", "/dev/random"],
  ["c", 1, 7, "rwm", "/dev/full"],
  ["c", 5, 0, "rwm", "/dev/tty"],
  ["c", 1, 5, "rwm", "/dev/zero"],
  ["c", 1, 9, "rwm", "/dev/urandom"],
  ["c", 136, WILDCARD, "rwm"], // /dev/pts/*
  ["c", 5, 2, "rwm"], // ptmx (no path: a linux.devices /dev/ptmx keeps it)
  ["c", 10, 200, "rwm"], // /dev/net/tun
];

const defaultRule = ([type, major, minor, access]: (typeof DEFAULTS)[number]): DeviceRule => ({ allow: true, type, major, minor, access, source: "default" });

/** Every default rule, in runc's order. */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = DEFAULTS.map(defaultRule);

/** Largest major/minor accepted: the eBPF program compares them as signed 32-bit immediates. */
const MAX_NUMBER = 0x7fffffff;

function number(v: unknown, path: string): number {
  if (v === undefined || v === null || v === WILDCARD) return WILDCARD;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_NUMBER) {
    throw new ConfigError(path, `must be -1 (any) or an integer from 0 to ${MAX_NUMBER}`);
  }
  return v;
}

/** One config rule, checked and normalized (absent type = "a", absent major/minor/access = any / "rwm"). */
export function normalizeRule(d: LinuxDeviceCgroup, path: string): DeviceRule {
  const type = d.type ?? "a";
  if (type !== "a" && type !== "c" && type !== "b") throw new ConfigError(`${path}/type`, `must be "a", "c" or "b", not ${JSON.stringify(type)}`);
  if (typeof d.allow !== "boolean") throw new ConfigError(`${path}/allow`, "must be true or false");
  const raw = d.access ?? "rwm";
  if (typeof raw !== "string" || !/^[rwm]*$/.test(raw)) throw new ConfigError(`${path}/access`, `must be made of r, w and m, not ${JSON.stringify(raw)}`);
  // runc refuses an empty access too: it would be a rule that matches nothing.
  if (raw === "") throw new ConfigError(`${path}/access`, "must not be empty");
  const access = ["r", "w", "m"].filter((c) => raw.includes(c)).join("");
  return { allow: d.allow, type, major: number(d.major, `${path}/major`), minor: number(d.minor, `${path}/minor`), access, source: path };
}

/**
 * The container's full rule list, built as runc 1.1 builds it: the config's linux.resources.devices,
 * then runc's defaults, less those whose node linux.devices names by the same path. A linux.devices
 * node gets no rule of its own: the config's rules decide its access (so under a deny-all it is made
 * but cannot be opened, as with runc). With no config rules at all, that is the defaults alone.
 */
export function containerDeviceRules(resources: readonly LinuxDeviceCgroup[] = [], nodes: readonly LinuxDevice[] = []): DeviceRule[] {
  const rules = resources.map((d, i) => normalizeRule(d, `/linux/resources/devices/${i}`));
  const named = new Set(nodes.map((n) => n.path));
  return [...rules, ...DEFAULTS.filter((d) => !(d[4] && named.has(d[4]))).map(defaultRule)];
}

/** Does the rule's type/major/minor cover this device (type "c" or "b")? */
export function ruleMatches(r: DeviceRule, type: "c" | "b", major: number, minor: number): boolean {
  return (r.type === "a" || r.type === type) && (r.major === WILDCARD || r.major === major) && (r.minor === WILDCARD || r.minor === minor);
}

/** The reference decision (see the top of this file): may a process do `access` on the device? */
export function decide(rules: readonly DeviceRule[], type: "c" | "b", major: number, minor: number, access: string): boolean {
  for (const bit of access) {
    let allowed = false;
    for (let i = rules.length - 1; i >= 0; i--) {
      const r = rules[i];
      if (r.access.includes(bit) && ruleMatches(r, type, major, minor)) {
        allowed = r.allow;
        break;
      }
    }
    if (!allowed) return false;
  }
  return true;
}
