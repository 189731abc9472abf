import { ConfigError } from "../../errors.js";
import type { UnitProperty } from "./properties.js";

/** Annotations with this prefix become unit properties (features lists it as potentially unsafe). */
export const SYSTEMD_PROPERTY_PREFIX = "org.systemd.property.";
const PREFIX = SYSTEMD_PROPERTY_PREFIX;

/**
 * The config's `org.systemd.property.<Name>` annotations as unit properties (runc's convention):
 * the value in GVariant text form ("uint64 123", "'inactive-or-failed'", "true", "[1, 2]",
 * "@as []"). A name in systemd's documented "...Sec" spelling is the "...USec" property in
 * microseconds. Errors name the annotation.
 */
export function annotationProperties(annotations: Readonly<Record<string, string>> | undefined): UnitProperty[] {
  const props: UnitProperty[] = [];
  for (const [key, text] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(PREFIX)) continue;
    const field = `/annotations/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    let name = key.slice(PREFIX.length);
    if (!/^[A-Za-z]{3,}$/.test(name)) throw new ConfigError(field, `${JSON.stringify(name)} is not a systemd property name (latin letters only, at least 3)`);
    let value: Typed;
    try {
      value = parseGVariant(text);
    } catch (e) {
      throw new ConfigError(field, `cannot read ${JSON.stringify(text)} as a GVariant value: ${(e as Error).message}`);
    }
    if (/[a-z]Sec$/.test(name)) {
      if (!NUMERIC.has(value.type)) throw new ConfigError(field, `${name} takes a number of seconds, not ${JSON.stringify(text)}`);
      name = `${name.slice(0, -3)}USec`;
      value = { type: "t", value: BigInt(Math.round(Number(value.value) * 1e6)) };
    }
    props.push({ name, ...value });
  }
  return props;
}

interface Typed {
  type: string;
  value: unknown;
}

const NUMERIC = new Set(["y", "n", "q", "i", "u", "x", "t", "d"]);

/** GVariant type keywords and the D-Bus signature each gives. */
const KEYWORDS: Record<string, string> = {
  boolean: "b",
  byte: "y",
  int16: "n",
  uint16: "q",
  int32: "i",
  uint32: "u",
  int64: "x",
  uint64: "t",
  double: "d",
  string: "s",
  objectpath: "o",
  signature: "g",
};

const RANGES: Record<string, [bigint, bigint]> = {
  y: [0n, 255n],
  n: [-(2n ** 15n), 2n ** 15n - 1n],
  q: [0n, 2n ** 16n - 1n],
  i: [-(2n ** 31n), 2n ** 31n - 1n],
  u: [0n, 2n ** 32n - 1n],
  x: [-(2n ** 63n), 2n ** 63n - 1n],
  t: [0n, 2n ** 64n - 1n],
};

/**
 * The part of GVariant's text format systemd properties use: numbers, booleans, strings, arrays of
 * them, a type keyword ("uint64 5") or annotation ("@t 5", "@as []") before a value.
 */
export function parseGVariant(text: string): Typed {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (why: string): never => {
    throw new Error(`${why} at offset ${i}`);
  };

  function value(want?: string): Typed {
    ws();
    if (text[i] === "@") {
      const m = /^@([a-z()]+)/.exec(text.slice(i)) ?? fail("a type after @");
      i += m[0].length;
      return value(m[1]);
    }
    const kw = /^([a-z][a-z0-9]*)\s/.exec(text.slice(i));
    if (kw && kw[1] in KEYWORDS) {
      i += kw[1].length;
      return value(KEYWORDS[kw[1]]);
    }
    const c = text[i];
    if (c === "[") return array(want);
    if (c === "'" || c === '"') return { type: want ?? "s", value: str(c) };
    const word = /^[^\s,\]]+/.exec(text.slice(i))?.[0] ?? fail("a value");
    i += word.length;
    if (word === "true" || word === "false") {
      if (want && want !== "b") fail(`a boolean where ${want} is wanted`);
      return { type: "b", value: word === "true" };
    }
    return number(word, want);
  }

  function number(word: string, want?: string): Typed {
    const isFloat = /[.eE]/.test(word) && !/^0x/i.test(word);
    const type = want ?? (isFloat ? "d" : "i");
    if (type === "d") {
      const n = Number(word);
      if (!Number.isFinite(n)) fail(`${JSON.stringify(word)} is not a number`);
      return { type, value: n };
    }
    if (!(type in RANGES)) fail(`a number where ${type} is wanted`);
    if (!/^[+-]?(\d+|0x[0-9a-f]+)$/i.test(word)) fail(`${JSON.stringify(word)} is not a whole number`);
    const neg = word.startsWith("-");
    const n = BigInt(word.replace(/^[+-]/, "")) * (neg ? -1n : 1n);
    const [lo, hi] = RANGES[type];
    if (n < lo || n > hi) fail(`${word} is out of range for ${type}`);
    return { type, value: type === "x" || type === "t" ? n : Number(n) };
  }

  function str(quote: string): string {
    let out = "";
    for (i++; i < text.length && text[i] !== quote; i++) {
      if (text[i] === "\\") {
        i++;
        const esc: Record<string, string> = { n: "\n", t: "\t", "\\": "\\", "'": "'", '"': '"' };
        out += esc[text[i]] ?? fail(`an unknown escape \\${text[i]}`);
      } else out += text[i];
    }
    if (text[i] !== quote) fail("an unterminated string");
    i++;
    return out;
  }

  function array(want?: string): Typed {
    if (want && !want.startsWith("a")) fail(`an array where ${want} is wanted`);
    let elem = want?.slice(1);
    const items: unknown[] = [];
    i++; // [
    ws();
    while (text[i] !== "]") {
      const v = value(elem);
      if (elem && v.type !== elem) fail(`an array mixing ${elem} and ${v.type}`);
      elem = v.type;
      items.push(v.value);
      ws();
      if (text[i] === ",") i++;
      else if (text[i] !== "]") fail('"," or "]"');
      ws();
    }
    i++;
    if (!elem) fail("an empty array without a type (write @as [] or similar)");
    return { type: `a${elem}`, value: items };
  }

  const v = value();
  ws();
  if (i < text.length) fail("text after the value");
  return v;
}
