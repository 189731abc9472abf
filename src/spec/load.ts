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
    text = readFileSync(configPath, "utf8");
  } catch (e) {
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
export function parseJson(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    const found = locateJsonError(body);
    if (!found) throw new ConfigError("", `invalid JSON: ${(e as Error).message}`);
    const before = body.slice(0, found.pos);
    const line = before.split("\n").length;
    const column = found.pos - before.lastIndexOf("\n");
    throw new ConfigError("", `invalid JSON at line ${line} column ${column}: ${found.reason}`);
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
