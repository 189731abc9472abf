// D-Bus type signatures (the specification's "Type System"), parsed into a tree the marshaller walks.
import { DbusWireError } from "../../errors.js";

/** The basic (fixed or string-like) type codes; `h` (a unix fd index) is carried as its u32 index. */
export type BasicCode = "y" | "b" | "n" | "q" | "i" | "u" | "x" | "t" | "d" | "s" | "o" | "g" | "h";

/** One complete type. */
export type DbusType =
  | { code: BasicCode }
  | { code: "v" }
  | { code: "a"; elem: DbusType }
  | { code: "("; fields: DbusType[] }
  | { code: "{"; key: DbusType; value: DbusType };

const BASIC = "ybnqiuxtdsogh";
/** The spec's limits: a signature is at most 255 bytes; arrays and structs nest at most 32 deep each. */
export const MAX_SIGNATURE_LENGTH = 255;
const MAX_NESTING = 32;

const ALIGN: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, s: 4, o: 4, g: 1, h: 4, v: 1, a: 4, "(": 8, "{": 8 };

/** The boundary a value of this type starts on, counted from the start of the message. */
export function alignOf(t: DbusType): number {
  return ALIGN[t.code];
}

export function isBasic(t: DbusType): t is { code: BasicCode } {
  return BASIC.includes(t.code);
}

const cache = new Map<string, DbusType[]>();

/** The complete types of a signature, in order ("" is none); DbusWireError for an invalid one. */
export function parseSignature(sig: string): DbusType[] {
  const hit = cache.get(sig);
  if (hit) return hit;
  if (sig.length > MAX_SIGNATURE_LENGTH) throw invalid(sig, `longer than ${MAX_SIGNATURE_LENGTH}`);
  const types: DbusType[] = [];
  let i = 0;
  while (i < sig.length) {
    const [t, next] = parseOne(sig, i, 0, 0, false);
    types.push(t);
    i = next;
  }
  if (cache.size < 256) cache.set(sig, types);
  return types;
}

/** The one complete type a variant's signature must hold. */
export function parseSingle(sig: string): DbusType {
  const types = parseSignature(sig);
  if (types.length !== 1) throw invalid(sig, "a variant holds exactly one complete type");
  return types[0];
}

/** The signature text of a type (for messages). */
export function signatureOf(t: DbusType): string {
  switch (t.code) {
    case "a":
      return `a${signatureOf(t.elem)}`;
    case "(":
      return `(${t.fields.map(signatureOf).join("")})`;
    case "{":
      return `{${signatureOf(t.key)}${signatureOf(t.value)}}`;
    default:
      return t.code;
  }
}

function parseOne(sig: string, i: number, arrays: number, structs: number, inArray: boolean): [DbusType, number] {
  const c = sig[i];
  if (c === undefined) throw invalid(sig, "ends inside a container type");
  if (BASIC.includes(c)) return [{ code: c as BasicCode }, i + 1];
  if (c === "v") return [{ code: "v" }, i + 1];
  if (c === "a") {
    if (arrays >= MAX_NESTING) throw invalid(sig, `arrays nested deeper than ${MAX_NESTING}`);
    const [elem, next] = parseOne(sig, i + 1, arrays + 1, structs, true);
    return [{ code: "a", elem }, next];
  }
  if (c === "(") {
    if (structs >= MAX_NESTING) throw invalid(sig, `structs nested deeper than ${MAX_NESTING}`);
    const fields: DbusType[] = [];
    let j = i + 1;
    while (sig[j] !== ")") {
      if (j >= sig.length) throw invalid(sig, `"(" at ${i} is never closed`);
      const [f, next] = parseOne(sig, j, arrays, structs + 1, false);
      fields.push(f);
      j = next;
    }
    if (fields.length === 0) throw invalid(sig, `empty struct at ${i}`);
    return [{ code: "(", fields }, j + 1];
  }
  if (c === "{") {
    if (!inArray) throw invalid(sig, `dict entry at ${i} outside an array`);
    if (structs >= MAX_NESTING) throw invalid(sig, `structs nested deeper than ${MAX_NESTING}`);
    const [key, afterKey] = parseOne(sig, i + 1, arrays, structs + 1, false);
    if (!isBasic(key)) throw invalid(sig, `dict entry key at ${i + 1} is not a basic type`);
    const [value, afterValue] = parseOne(sig, afterKey, arrays, structs + 1, false);
    if (sig[afterValue] !== "}") throw invalid(sig, `dict entry at ${i} does not hold exactly a key and a value`);
    return [{ code: "{", key, value }, afterValue + 1];
  }
  throw invalid(sig, `unexpected "${c}" at ${i}`);
}

function invalid(sig: string, why: string): DbusWireError {
  return new DbusWireError(`invalid D-Bus signature "${sig.slice(0, 64)}": ${why}`, "org.freedesktop.DBus.Error.InvalidSignature");
}
