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
interface Exception {
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
 * Rules -> the writes that give a fresh v1 devices cgroup the same per-bit decisions (devices-rules.ts).
 * The v1 controller only has a default (allow all / deny all) plus a list of exceptions, and a write
 * to the default's side removes exactly-keyed exceptions only. So the rules are first played into
 * that model (as runc's v1 emulation does), then written out: "a" to devices.deny (fresh default
 * deny), then either the allow exceptions, or "a" to devices.allow and the deny exceptions.
 *
 * What v1 cannot say: a rule on the default's side that is narrower than (or crosses) an earlier
 * exception, e.g. allow `c 1:*` then deny `c 1:5`. A deny that cannot be expressed is an error naming
 * the rule (running with less isolation than asked is not acceptable); an allow that cannot be
 * expressed leaves the device denied and is reported in `warnings`.
 */
export function deviceWritesV1(rules: readonly DeviceRule[]): { writes: DeviceWrite[]; warnings: string[] } {
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
  const lines = exceptions.map((e) => `${e.type} ${num(e.major)}:${num(e.minor)} ${["r", "w", "m"].filter((b) => e.bits.has(b)).join("")}`);
  const writes: DeviceWrite[] = [{ file: "devices.deny", line: "a" }];
  if (defaultAllow) {
    writes.push({ file: "devices.allow", line: "a" }, ...lines.map((line) => ({ file: "devices.deny" as const, line })));
  } else {
    writes.push(...lines.map((line) => ({ file: "devices.allow" as const, line })));
  }
  return { writes, warnings };
}

/** Apply the writes to the container's v1 devices cgroup directory (before any process is in it). */
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
