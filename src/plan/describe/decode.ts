/**
 * The numbers of a launch plan record turned back into the names a reader knows: mount flags,
 * mount_setattr attributes, namespace (clone) flags, capability masks, rlimits, file modes. Pure.
 */
import { MOUNT_ATTR, MS } from "../../fs/mount-flags.js";
import { capabilityNames } from "../../security/capabilities.js";
import { RLIMITS, RLIM_INFINITY } from "../../security/rlimits.js";
import { NAMESPACE_FLAGS } from "../namespaces.js";

const MS_NAMES = Object.entries(MS) as [string, number][];

/** mount(2) flags as lower-case names ("bind,rec"); bits no name covers as a hex rest. */
export function mountFlagNames(flags: number): string[] {
  const names: string[] = [];
  let rest = flags;
  for (const [name, bit] of MS_NAMES) {
    if (flags & bit) {
      names.push(name.toLowerCase());
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${rest.toString(16)}`);
  return names;
}

/** The propagation a mount(2) call with no source sets ("rslave"), or undefined when it sets none. */
export function propagationName(flags: number): string | undefined {
  const kinds: [number, string][] = [[MS.PRIVATE, "private"], [MS.SLAVE, "slave"], [MS.SHARED, "shared"], [MS.UNBINDABLE, "unbindable"]];
  const kind = kinds.find(([bit]) => flags & bit);
  if (!kind) return undefined;
  return `${flags & MS.REC ? "r" : ""}${kind[1]}`;
}

/** mount_setattr(2) attributes as names ("rdonly,nosuid"); the atime field by its mode. */
export function mountAttrNames(attrs: number): string[] {
  const names: string[] = [];
  for (const name of ["RDONLY", "NOSUID", "NODEV", "NOEXEC", "NODIRATIME", "NOSYMFOLLOW"] as const) {
    if (attrs & MOUNT_ATTR[name]) names.push(name.toLowerCase());
  }
  const atime = attrs & MOUNT_ATTR._ATIME;
  if (atime === MOUNT_ATTR.NOATIME) names.push("noatime");
  else if (atime === MOUNT_ATTR.STRICTATIME) names.push("strictatime");
  return names;
}

const NS_NAMES = Object.entries(NAMESPACE_FLAGS);

/** clone/unshare/setns flags as OCI namespace types ("mount", "network", ...), in clone-flag order. */
export function namespaceNames(flags: number): string[] {
  return NS_NAMES.filter(([, bit]) => flags & bit).map(([name]) => name);
}

/** A capability mask as CAP_ names. */
export function capNames(mask: number | bigint): string[] {
  return capabilityNames(BigInt(mask));
}

const RLIMIT_BY_NUMBER = new Map(Object.entries(RLIMITS).map(([name, n]) => [n, name]));

export function rlimitName(n: number): string {
  return RLIMIT_BY_NUMBER.get(n) ?? `rlimit ${n}`;
}

/** An rlimit value as the plan holds it (u64, two's complement): RLIM_INFINITY is "unlimited". */
export function rlimitValue(v: number | bigint): string {
  const u = BigInt.asUintN(64, BigInt(v));
  return u === RLIM_INFINITY ? "unlimited" : u.toString();
}

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/** A device node's type from its mode (S_IFMT). */
export function nodeType(mode: number): string {
  switch (mode & 0o170000) {
    case 0o020000:
      return "char device";
    case 0o060000:
      return "block device";
    case 0o010000:
      return "fifo";
    default:
      return "file";
  }
}

/** Affinity mask words (64 CPUs each) as a CPU list ("0-3,7"). */
export function cpuList(words: readonly (number | bigint)[]): string {
  const cpus: number[] = [];
  words.forEach((w, i) => {
    const b = BigInt.asUintN(64, BigInt(w));
    for (let bit = 0; bit < 64; bit++) if ((b >> BigInt(bit)) & 1n) cpus.push(i * 64 + bit);
  });
  const ranges: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j] + 1) j++;
    ranges.push(i === j ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return ranges.join(",");
}
