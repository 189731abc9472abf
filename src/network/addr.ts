/**
 * IPv4 and IPv6 addresses as bigints: parsing, subnet membership and enumeration. Pure.
 * The schema has checked the shape of each string already; these functions still reject what they
 * cannot parse (library callers skip the schema), with the JSON path of the field in the error.
 */
import { ConfigError } from "../errors.js";

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
}

export interface Cidr extends Ip {
  prefix: number;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

function parseV4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseV4(p);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  let v = 0n;
  for (const g of [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail]) v = (v << 16n) | BigInt(g);
  return v;
}

/** An address without a prefix; `field` is the JSON path for the error. */
export function parseIp(s: string, field: string): Ip {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = s.includes(":") ? parseV6(s) : undefined;
  if (v6 !== undefined) return { family: 6, value: v6 };
  throw new ConfigError(field, `"${s}" is not an IPv4 or IPv6 address`);
}

/** address/prefix. */
export function parseCidr(s: string, field: string): Cidr {
  const slash = s.lastIndexOf("/");
  const prefixText = slash < 0 ? "" : s.slice(slash + 1);
  if (slash < 0 || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) throw new ConfigError(field, `"${s}" is not in CIDR form (address/prefix)`);
  const ip = parseIp(s.slice(0, slash), field);
  const prefix = Number(prefixText);
  if (prefix > BITS[ip.family]) throw new ConfigError(field, `"${s}": prefix /${prefix} is longer than an IPv${ip.family} address`);
  return { ...ip, prefix };
}

function mask(family: Family, prefix: number): bigint {
  const bits = BITS[family];
  return ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
}

/** The network address of a CIDR (host bits cleared). */
export function networkOf(c: Cidr): bigint {
  return c.value & mask(c.family, c.prefix);
}

export function inSubnet(ip: Ip, subnet: Cidr): boolean {
  return ip.family === subnet.family && (ip.value & mask(subnet.family, subnet.prefix)) === networkOf(subnet);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as ::). */
export function formatIp(ip: Ip): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join(".");
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c)}/${c.prefix}`;
}

/**
 * Addresses of a subnet a host may hold, lowest first: not the network address, nor (IPv4) the
 * broadcast address; a /31 or /32 (and IPv6 /127, /128) has no such reserved addresses.
 */
export function* hostAddresses(subnet: Cidr): Generator<Ip> {
  const size = 1n << BigInt(BITS[subnet.family] - subnet.prefix);
  const base = networkOf(subnet);
  const reserved = size > 2n;
  const first = reserved ? 1n : 0n;
  const last = reserved && subnet.family === 4 ? size - 2n : size - 1n;
  for (let i = first; i <= last; i++) yield { family: subnet.family, value: base + i };
}
