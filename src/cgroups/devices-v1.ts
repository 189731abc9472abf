import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, HostError } from "../errors.js";
import { type DeviceRule, WILDCARD } from "./devices-rules.js";

/** One write to a v1 devices cgroup file. */
export interface DeviceWrite {
  file: "devices.allow" | "devices.deny";
  line: string;
}

/** A v1 exception: one type/major/minor key with the access bits that differ from the default. */
export interface Exception {
  type: "c" | "b";
  major: number;
  minor: number;
  bits: Set<string>;
}

type Key = Pick<Exception, "type" | "major" | "minor">;

/** Does key a cover every device of key b? */
function covers(a: Key, b: Key): boolean {
  return a.type === b.type && (a.major === WILDCARD || a.major === b.major) && (a.minor === WILDCARD || a.minor === b.minor);
}

/** Do keys a and b share at least one device? */
function overlaps(a: Key, b: Key): boolean {
  const f = (x: number, y: number) => x === WILDCARD || y === WILDCARD || x === y;
  return a.type === b.type && f(a.major, b.major) && f(a.minor, b.minor);
}

const num = (n: number) => (n === WILDCARD ? "*" : String(n));

/**
 * A v1 devices cgroup as the kernel keeps it: a default (allow all / deny all) and exceptions to it,
 * one per type/major/minor key. `exceptions` undefined: not known (devices.list shows only "a *:* rwm"
 * in default-allow mode, not the deny exceptions).
 */
export interface DevicesStateV1 {
  defaultAllow: boolean;
  exceptions?: Exception[];
}

const line = (e: Exception) => `${e.type} ${num(e.major)}:${num(e.minor)} ${["r", "w", "m"].filter((b) => e.bits.has(b)).join("")}`;

/**
 * Rules -> the v1 state that gives the same per-bit decisions (devices-rules.ts). The v1 controller
 * only has a default plus a list of exceptions, and a write to the default's side removes
 * exactly-keyed exceptions only, so the rules are played into that model (as runc's v1 emulation does).
 *
 * What v1 cannot say: a rule on the default's side that is narrower than (or crosses) an earlier
 * exception, e.g. allow `c 1:*` then deny `c 1:5`. A deny that cannot be expressed is an error naming
 * the rule (running with less isolation than asked is not acceptable); an allow that cannot be
 * expressed leaves the device denied and is reported in `warnings`.
 */
function playRules(rules: readonly DeviceRule[]): { state: Required<DevicesStateV1>; warnings: string[] } {
  let defaultAllow = false;
  let exceptions: Exception[] = [];
  const warnings: string[] = [];
  for (const r of rules) {
    if (r.type === "a" && r.major === WILDCARD && r.minor === WILDCARD && r.access === "rwm") {
      defaultAllow = r.allow;
      exceptions = [];
      continue;
    }
    const bits = [...r.access];
    for (const type of r.type === "a" ? (["c", "b"] as const) : [r.type]) {
      const key: Key = { type, major: r.major, minor: r.minor };
      if (r.allow !== defaultAllow) {
        // An exception for this key also carries the bits of wider exceptions (and gives its bits to
        // narrower ones): the kernel wants one exception to cover every bit of an access.
        let ex = exceptions.find((e) => e.type === type && e.major === r.major && e.minor === r.minor);
        if (!ex) {
          ex = { ...key, bits: new Set() };
          for (const e of exceptions) if (covers(e, key)) for (const b of e.bits) ex.bits.add(b);
          exceptions.push(ex);
        }
        for (const e of exceptions) if (covers(key, e)) for (const b of bits) e.bits.add(b);
      } else {
        for (const e of exceptions) {
          if (covers(key, e)) {
            for (const b of bits) e.bits.delete(b);
          } else if (overlaps(key, e) && bits.some((b) => e.bits.has(b))) {
            const what = `${type} ${num(r.major)}:${num(r.minor)} ${r.access}`;
            if (!r.allow) {
              throw new ConfigError(r.source, `cgroup v1 cannot deny ${what} inside the wider allow ${type} ${num(e.major)}:${num(e.minor)} before it`);
            }
            warnings.push(`${r.source}: cgroup v1 cannot allow ${what} inside the wider deny ${type} ${num(e.major)}:${num(e.minor)}: it stays denied`);
          }
        }
        exceptions = exceptions.filter((e) => e.bits.size > 0);
      }
    }
  }
  return { state: { defaultAllow, exceptions }, warnings };
}

/** devices.list text -> the state it shows. Pure. */
export function parseDevicesList(text: string): DevicesStateV1 {
  const exceptions: Exception[] = [];
  for (const l of text.split("\n")) {
    const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(l.trim());
    if (!m) continue;
    // The kernel lists "a *:* rwm" alone in default-allow mode; a type "a" exception cannot exist.
    if (m[1] === "a") return { defaultAllow: true };
    const n = (x: string) => (x === "*" ? WILDCARD : Number(x));
    exceptions.push({ type: m[1] as "c" | "b", major: n(m[2]), minor: n(m[3]), bits: new Set(m[4]) });
  }
  return { defaultAllow: false, exceptions };
}

/** Do two known states hold the same exceptions (same keys, same bits)? Pure. */
export function sameDevicesState(a: DevicesStateV1, b: DevicesStateV1): boolean {
  if (a.defaultAllow !== b.defaultAllow || !a.exceptions || !b.exceptions) return false;
  const lines = (s: DevicesStateV1) => s.exceptions!.map(line).sort().join("\n");
  return lines(a) === lines(b);
}

export interface DevicesTransitionV1 {
  writes: DeviceWrite[];
  warnings: string[];
  /**
   * The writes pass through a state that allows or denies more than both the current and the target
   * state (a change of default: "a" clears every exception): a cgroup with processes must be frozen
   * around them.
   */
  disruptive: boolean;
  /** What the cgroup must hold afterwards (for the check after writing). */
  target: DevicesStateV1;
}

/**
 * Rules -> the writes that take a v1 devices cgroup from `current` (its devices.list, parsed; undefined
 * = unknown, e.g. never read) to the rules' state, never passing through a state wider than both:
 * - same default, deny-all: first the bits to drop (devices.deny), then the bits to add (devices.allow);
 *   a re-application of the same rules writes nothing (runc's minimal transition);
 * - same default, allow-all: the deny exceptions are not listed, so all of the target's are written
 *   (a deny already there is merged, a no-op); a stale deny would stay, which is stricter, never wider;
 * - another default, or unknown: "a" to devices.deny, then either the allows, or "a" to devices.allow
 *   and the denies (`disruptive`).
 */
export function deviceTransitionV1(rules: readonly DeviceRule[], current?: DevicesStateV1): DevicesTransitionV1 {
  const { state: target, warnings } = playRules(rules);
  const wanted = target.exceptions;
  const toOther = target.defaultAllow ? ("devices.deny" as const) : ("devices.allow" as const);
  const toDefault = target.defaultAllow ? ("devices.allow" as const) : ("devices.deny" as const);
  if (!current || current.defaultAllow !== target.defaultAllow) {
    const writes: DeviceWrite[] = [{ file: "devices.deny", line: "a" }];
    if (target.defaultAllow) writes.push({ file: "devices.allow", line: "a" });
    writes.push(...wanted.map((e) => ({ file: toOther, line: line(e) })));
    return { writes, warnings, disruptive: true, target };
  }
  if (!current.exceptions) return { writes: wanted.map((e) => ({ file: toOther, line: line(e) })), warnings, disruptive: false, target };
  const same = (a: Key, b: Key) => a.type === b.type && a.major === b.major && a.minor === b.minor;
  const minus = (e: Exception, other: Exception | undefined): Exception => ({ ...e, bits: new Set([...e.bits].filter((b) => !other?.bits.has(b))) });
  const dropped = current.exceptions.map((e) => minus(e, wanted.find((w) => same(w, e)))).filter((e) => e.bits.size);
  const gained = wanted.map((e) => minus(e, current.exceptions!.find((c) => same(c, e)))).filter((e) => e.bits.size);
  const writes = [...dropped.map((e) => ({ file: toDefault, line: line(e) })), ...gained.map((e) => ({ file: toOther, line: line(e) }))];
  return { writes, warnings, disruptive: false, target };
}

/** Write the lines into the container's v1 devices cgroup directory, in order. */
export function writeDevicesV1(dir: string, writes: readonly DeviceWrite[]): void {
  for (const w of writes) {
    try {
      // One write per rule: the kernel parses one rule per write.
      writeFileSync(join(dir, w.file), w.line);
    } catch (e) {
      throw new HostError(`cannot write "${w.line}" to ${join(dir, w.file)}: ${(e as Error).message}`);
    }
  }
}
