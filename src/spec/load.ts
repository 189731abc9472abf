/**
 * Loading a bundle: `<bundle>/config.json` -> validated Spec, plus the absolute bundle and rootfs paths.
 * Runs on every `create`/`run`, so it does the minimum: realpath, one read, one parse, the precompiled
 * validator, one realpath + stat of the rootfs.
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, PathError } from "../errors.js";
import type { Spec } from "./types.js";
import { validateSpec } from "./validate.js";

export interface LoadedBundle {
  /** Absolute real path of the bundle directory (symlinks resolved). */
  bundle: string;
  spec: Spec;
  /**
   * Absolute real path of the root filesystem directory (root.path, relative to the bundle when not
   * absolute). With `tsrun.layers` this is the (existing) directory the overlay will be mounted on.
   */
  rootfs: string;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

export function loadBundle(bundleDir: string): LoadedBundle {
  const given = bundleDir === "" ? "." : bundleDir;
  let bundle: string;
  try {
    bundle = realpathSync(resolve(given));
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") throw new PathError(given, "bundle directory does not exist");
    throw new PathError(given, `cannot open bundle directory: ${(e as Error).message}`);
  }

  const configPath = join(bundle, "config.json");
  let text: string;
  try {
    text = decodeUtf8(readFileSync(configPath));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = errno(e);
    if (code === "ENOTDIR") throw new PathError(given, "bundle is not a directory");
    if (code === "ENOENT") throw new PathError(configPath, "config.json does not exist in the bundle");
    if (code === "EISDIR") throw new PathError(configPath, "config.json is a directory");
    throw new PathError(configPath, `cannot read config.json: ${(e as Error).message}`);
  }

  const spec = validateSpec(parseJson(text));

  const rootPath = spec.root.path;
  const rootAbs = isAbsolute(rootPath) ? rootPath : join(bundle, rootPath);
  let rootfs: string;
  try {
    rootfs = realpathSync(rootAbs);
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") {
      throw new PathError(rootAbs, "root filesystem directory (root.path) does not exist");
    }
    throw new PathError(rootAbs, `cannot open root filesystem (root.path): ${(e as Error).message}`);
  }
  if (!statSync(rootfs).isDirectory()) throw new PathError(rootAbs, "root filesystem (root.path) is not a directory");

  return { bundle, spec, rootfs };
}

/**
 * JSON.parse, but a syntax error becomes a ConfigError "invalid JSON at line L column C: reason".
 * The position is found by our own scanner (only on the error path): engines word JSON.parse errors
 * differently and JavaScriptCore (Bun) gives no position at all.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * config.json as text; bytes that are not UTF-8 (RFC 8259 requires it) are refused, naming the first
 * bad byte's line, rather than silently read as U+FFFD as runc (Go's decoder) does: a hostname or
 * a path with a replacement character is never what the author meant.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    // Find the first bad byte: decode growing prefixes is slow; a lenient decode tells where U+FFFD
    // appears that the bytes did not spell (EF BF BD).
    const lenient = new TextDecoder("utf-8").decode(bytes);
    let line = 1;
    let byte = 0;
    for (const ch of lenient) {
      const n = Buffer.byteLength(ch);
      if (ch === "\ufffd" && !(bytes[byte] === 0xef && bytes[byte + 1] === 0xbf && bytes[byte + 2] === 0xbd)) {
        throw new ConfigError("", `not valid UTF-8 (byte ${byte}, line ${line}: 0x${bytes[byte].toString(16).padStart(2, "0")})`);
      }
      if (ch === "\n") line++;
      byte += n;
    }
    throw new ConfigError("", "not valid UTF-8");
  }
}

export function parseJson(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    const value = JSON.parse(body);
    // Only a config with a 19-digit run pays for the scan (every config field fits in 64 bits).
    if (/[0-9]{19}/.test(body)) refuseOver64Bits(body);
    return value;
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const found = locateJsonError(body);
    if (!found) throw new ConfigError("", `invalid JSON: ${(e as Error).message}`);
    const before = body.slice(0, found.pos);
    const line = before.split("\n").length;
    const column = found.pos - before.lastIndexOf("\n");
    throw new ConfigError("", `invalid JSON at line ${line} column ${column}: ${found.reason}`);
  }
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const JS_UINT64_MAX = String(2 ** 64 - 1); // "18446744073709552000"

/**
 * JSON.parse reads an integer beyond 2^53 as the nearest double, so 18446744073709551616 (2^64) would
 * pass the schema's uint64 maximum (the same double) and become RLIM_INFINITY. No field of the
 * config holds more than 64 bits: an integer literal outside [-2^63, 2^64-1] is refused, naming
 * where it is (Go's decoder, hence runc, refuses it too). Strings are skipped. One exception:
 * 18446744073709552000, which is how JavaScript prints 2^64-1 (JSON.stringify of the nearest double),
 * is taken as 2^64-1, so configs written by JS tools keep their "unlimited" values.
 */
function refuseOver64Bits(s: string): void {
  const INTEGER = /-?[0-9]+(?![0-9.eE])/y;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < s.length && s.charCodeAt(i) !== 0x22; i++) if (s.charCodeAt(i) === 0x5c) i++;
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    INTEGER.lastIndex = i;
    const m = INTEGER.exec(s);
    if (m && m[0].length >= 19) {
      const v = BigInt(m[0]);
      if ((v > UINT64_MAX && m[0] !== JS_UINT64_MAX) || v < INT64_MIN) {
        const before = s.slice(0, i);
        throw new ConfigError("", `integer ${m[0]} at line ${before.split("\n").length} column ${i - before.lastIndexOf("\n")} does not fit in 64 bits`);
      }
    }
    // Skip the rest of this number token.
    while (i + 1 < s.length && /[0-9.eE+-]/.test(s[i + 1])) i++;
  }
}

class JsonSyntax {
  constructor(
    readonly pos: number,
    readonly reason: string,
  ) {}
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Position and reason of the first JSON syntax error in `s`, or undefined if there is none. */
export function locateJsonError(s: string): { pos: number; reason: string } | undefined {
  let i = 0;
  const fail = (reason: string): never => {
    throw new JsonSyntax(i, i >= s.length ? "unexpected end of input" : reason);
  };
  const ws = (): void => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) i++;
  };
  const literal = (word: string): void => {
    for (let k = 0; k < word.length; k++, i++) if (s[i] !== word[k]) fail(`unexpected character ${JSON.stringify(s[i])}`);
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= s.length) throw new JsonSyntax(i, "unterminated string");
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail("control character in string (escape it)");
      if (c === 0x5c) {
        i++;
        const e = s[i];
        if (e === "u") {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(s[i + k] ?? "")) {
              i += k;
              fail("invalid \\u escape");
            }
          }
          i += 5;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail("invalid escape in string");
      }
      i++;
    }
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === "{") {
      i++;
      ws();
      if (s[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (s[i] !== '"') fail("expected a property name in double quotes");
        string();
        ws();
        if (s[i] !== ":") fail("expected ':' after the property name");
        i++;
        value();
        ws();
        if (s[i] === ",") {
          i++;
          continue;
        }
        if (s[i] === "}") {
          i++;
          return;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (s[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (s[i] === ",") {
          i++;
          continue;
        }
        if (s[i] === "]") {
          i++;
          return;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === "t") return literal("true");
    if (c === "f") return literal("false");
    if (c === "n") return literal("null");
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(s)) fail("invalid number");
      i = NUMBER.lastIndex;
      return;
    }
    fail(`unexpected character ${JSON.stringify(c)}`);
  };
  try {
    value();
    ws();
    if (i < s.length) fail("unexpected content after the JSON value");
    return undefined;
  } catch (e) {
    if (e instanceof JsonSyntax) return { pos: e.pos, reason: e.reason };
    return undefined; // e.g. RangeError on absurd nesting: the caller falls back to the engine's message
  }
}
