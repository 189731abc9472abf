// The bad-input fuzzer of the reliability suite: from a seed, config.json files mutated so that each
// is invalid by construction (a runtime must refuse it), and bad command lines. Pure and
// deterministic: the same seed gives the same cases, so a failure names a case that can be re-run.

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

export const CONFIG_CATEGORIES = [
  "wrong-type", "huge-number", "negative", "missing-field", "unknown-enum", "long-string", "invalid-utf8", "deep-nesting", "non-json", "empty",
] as const;
export type ConfigCategory = (typeof CONFIG_CATEGORIES)[number];

export interface ConfigCase {
  category: ConfigCategory;
  /** What was done, for the failure message. */
  what: string;
  /** The bytes of config.json. */
  bytes: Buffer;
}

type Path = (string | number)[];
type Kind = "string" | "path" | "uint32" | "uint64" | "int64" | "pids" | "bool" | "strings" | "object";

/** Fields of the busybox test config and their kinds (every one of them is checked by tsrun). */
const FIELDS: [Path, Kind][] = [
  [["ociVersion"], "string"],
  [["root"], "object"],
  [["root", "path"], "string"],
  [["root", "readonly"], "bool"],
  [["process"], "object"],
  [["process", "args"], "strings"],
  [["process", "args", 0], "string"],
  [["process", "env"], "strings"],
  [["process", "cwd"], "path"],
  [["process", "user"], "object"],
  [["process", "user", "uid"], "uint32"],
  [["process", "user", "gid"], "uint32"],
  [["process", "rlimits", 0, "hard"], "uint64"],
  [["process", "rlimits", 0, "soft"], "uint64"],
  [["process", "noNewPrivileges"], "bool"],
  [["process", "capabilities", "bounding"], "strings"],
  [["hostname"], "string"],
  [["mounts"], "object"],
  [["mounts", 0, "destination"], "path"],
  [["mounts", 1, "options"], "strings"],
  [["linux", "namespaces"], "object"],
  [["linux", "namespaces", 0, "type"], "string"],
  [["linux", "resources", "memory", "limit"], "int64"],
  // pids.limit: any negative value means unlimited, as with runc, so it gets no negative or huge cases.
  [["linux", "resources", "pids", "limit"], "pids"],
  [["linux", "maskedPaths"], "strings"],
];

/** Values of the wrong JSON type for a kind. */
function wrongTypes(kind: Kind): unknown[] {
  switch (kind) {
    case "string":
    case "path":
      return [42, true, null, [], {}, ["x"]];
    case "uint32":
    case "uint64":
    case "int64":
    case "pids":
      return ["1", true, null, [], {}, 1.5, "0x10"];
    case "bool":
      return ["true", 0, 1, null, [], {}];
    case "strings":
      return ["x", {}, 5, null, [1, 2], [null], [["a"]]];
    case "object":
      return ["x", 5, null, true];
  }
}

/** Raw JSON number texts out of range (as text: JSON can hold more than a double). */
const HUGE: Record<"uint32" | "uint64" | "int64", string[]> = {
  uint32: ["4294967296", "1e300", "18446744073709551616", "1e400", "99999999999999999999999"],
  uint64: ["18446744073709551616", "18446744073709551617", "1e300", "1e400", "36893488147419103232"],
  // Not 2^63: JSON.parse reads it as the double that int64's maximum also rounds to (spec-notes).
  int64: ["18446744073709551616", "1e300", "1e400", "-1e300", "-36893488147419103232"],
};
const NEGATIVE: [Path, string[]][] = [
  [["process", "user", "uid"], ["-1", "-4294967296"]],
  [["process", "user", "gid"], ["-1", "-2"]],
  [["process", "rlimits", 0, "hard"], ["-1", "-1024"]],
  [["process", "rlimits", 0, "soft"], ["-1"]],
  [["process", "oomScoreAdj"], ["-1001", "-99999"]],
  [["linux", "resources", "memory", "limit"], ["-2", "-1048576"]],
  [["linux", "resources", "cpu", "shares"], ["-1"]],
];
const REQUIRED: Path[] = [
  ["ociVersion"], ["root"], ["root", "path"], ["process", "args"], ["process", "cwd"], ["process", "user"],
  ["process", "user", "uid"], ["process", "user", "gid"], ["process", "rlimits", 0, "type"], ["process", "rlimits", 0, "hard"],
  ["mounts", 0, "destination"], ["linux", "namespaces", 0, "type"],
];
const ENUMS: [Path, string[]][] = [
  [["linux", "namespaces", 0, "type"], ["bogus", "PID", "net", ""]],
  [["process", "rlimits", 0, "type"], ["RLIMIT_BOGUS", "nofile", ""]],
  [["process", "capabilities", "bounding", 0], ["CAP_BOGUS", "CAP_"]],
  [["linux", "rootfsPropagation"], ["bogus", "rprivate,shared", ""]],
  [["linux", "resources", "devices", 0, "access"], ["x", "rwmx"]],
  [["linux", "resources", "devices", 0, "type"], ["q", "char"]],
];
const LONG_TARGETS: Path[] = [["hostname"], ["process", "cwd"], ["mounts", 0, "destination"], ["ociVersion"], ["root", "path"], ["linux", "namespaces", 0, "type"], ["process", "args", 0]];

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

function set(obj: any, path: Path, value: unknown): void {
  let o = obj;
  path.slice(0, -1).forEach((k, i) => {
    // A missing container is made of the kind its next key indexes.
    if (o[k] === undefined || o[k] === null || typeof o[k] !== "object") o[k] = typeof path[i + 1] === "number" ? [] : {};
    o = o[k];
  });
  o[path[path.length - 1]] = value;
}
function remove(obj: any, path: Path): void {
  let o = obj;
  for (const k of path.slice(0, -1)) o = o?.[k];
  if (o && typeof o === "object") delete o[path[path.length - 1]];
}
const show = (p: Path) => "/" + p.join("/");

/** Set path to a raw JSON text (a number the JS side could not hold exactly). */
function withRaw(base: object, path: Path, raw: string): Buffer {
  const marker = "@@RAW@@";
  const c = clone(base);
  set(c, path, marker);
  return Buffer.from(JSON.stringify(c, null, 2).replace(`"${marker}"`, raw));
}

function deep(r: Rand, depth: number): string {
  return r() < 0.5 ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** One invalid config.json, by category. */
export function configCase(base: object, category: ConfigCategory, r: Rand): ConfigCase {
  const text = (c: object) => Buffer.from(JSON.stringify(c, null, 2));
  switch (category) {
    case "wrong-type": {
      const [path, kind] = pick(r, FIELDS);
      const v = pick(r, wrongTypes(kind));
      const c = clone(base);
      set(c, path, v);
      return { category, what: `${show(path)} = ${JSON.stringify(v)}`, bytes: text(c) };
    }
    case "huge-number": {
      const [path, kind] = pick(r, FIELDS.filter(([, k]) => k === "uint32" || k === "uint64" || k === "int64"));
      const raw = pick(r, HUGE[kind as keyof typeof HUGE]);
      return { category, what: `${show(path)} = ${raw}`, bytes: withRaw(base, path, raw) };
    }
    case "negative": {
      const [path, values] = pick(r, NEGATIVE);
      const raw = pick(r, values);
      return { category, what: `${show(path)} = ${raw}`, bytes: withRaw(base, path, raw) };
    }
    case "missing-field": {
      const path = pick(r, REQUIRED);
      const c = clone(base);
      remove(c, path);
      return { category, what: `without ${show(path)}`, bytes: text(c) };
    }
    case "unknown-enum": {
      const [path, values] = pick(r, ENUMS);
      const v = pick(r, values);
      const c = clone(base);
      set(c, path, v);
      return { category, what: `${show(path)} = ${JSON.stringify(v)}`, bytes: text(c) };
    }
    case "long-string": {
      const path = pick(r, LONG_TARGETS);
      const n = pick(r, [5000, 70_000, 1_000_000]);
      const body = "a".repeat(n);
      const v = path.includes("cwd") || path.includes("destination") ? `/${body}` : body;
      const c = clone(base);
      set(c, path, v);
      return { category, what: `${show(path)} = ${n} characters`, bytes: text(c) };
    }
    case "invalid-utf8": {
      const [path] = pick(r, FIELDS.filter(([, k]) => k === "string" || k === "path"));
      const bad = pick(r, [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]]);
      const marker = "@@UTF8@@";
      const c = clone(base);
      const old = (() => {
        let o: any = c;
        for (const k of path) o = o?.[k];
        return typeof o === "string" ? o : "x";
      })();
      set(c, path, `${old}${marker}`);
      const [a, b] = JSON.stringify(c, null, 2).split(marker);
      return { category, what: `${show(path)} with bytes ${bad.map((x) => x.toString(16)).join(" ")}`, bytes: Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]) };
    }
    case "deep-nesting": {
      const depth = pick(r, [1000, 10_000, 100_000]);
      if (r() < 0.3) return { category, what: `the whole file nested ${depth} deep`, bytes: Buffer.from(deep(r, depth)) };
      const [path] = pick(r, FIELDS.filter(([, k]) => k !== "object"));
      const marker = "@@DEEP@@";
      const c = clone(base);
      set(c, path, marker);
      return { category, what: `${show(path)} nested ${depth} deep`, bytes: Buffer.from(JSON.stringify(c).replace(`"${marker}"`, deep(r, depth))) };
    }
    case "non-json": {
      const good = JSON.stringify(base, null, 2);
      const how = pick(r, ["truncate", "control", "trailing", "quotes", "literal"]);
      if (how === "truncate") {
        const at = 1 + Math.floor(r() * (good.length - 2));
        return { category, what: `truncated at ${at}`, bytes: Buffer.from(good.slice(0, at)) };
      }
      if (how === "control") {
        // A raw control character is invalid JSON inside a string and outside one.
        const at = 1 + Math.floor(r() * (good.length - 2));
        return { category, what: `\\u0001 at ${at}`, bytes: Buffer.from(good.slice(0, at) + "\u0001" + good.slice(at)) };
      }
      if (how === "trailing") return { category, what: "trailing garbage", bytes: Buffer.from(good + pick(r, ["}", "x", ",{}", "\n]"])) };
      if (how === "quotes") return { category, what: "single quotes", bytes: Buffer.from(good.replace(/"/g, "'")) };
      const lit = pick(r, ["null", "[]", "42", '"config"', "NaN", "true", "\ufeff", "{} {}"]);
      return { category, what: `the file is ${JSON.stringify(lit)}`, bytes: Buffer.from(lit) };
    }
    case "empty": {
      const t = pick(r, ["", " ", "\n\n", "\t \r\n", "\ufeff"]);
      return { category, what: `empty (${JSON.stringify(t)})`, bytes: Buffer.from(t) };
    }
  }
}

/** `n` config cases, categories in turn (so every category gets n/10), from `seed`. */
export function configCases(base: object, n: number, seed: number): ConfigCase[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => configCase(base, CONFIG_CATEGORIES[i % CONFIG_CATEGORIES.length], r));
}

export const CLI_CATEGORIES = ["unknown-flag", "missing-id", "bad-id", "bad-value"] as const;
export interface CliCase {
  category: (typeof CLI_CATEGORIES)[number];
  args: string[];
}

const ID_VERBS = ["create", "start", "state", "kill", "delete", "pause", "resume", "ps", "events", "update", "run"];
/** Ids runc refuses (its rule, and a length no state dir can have). NUL cannot be passed in argv: unit-tested. */
export const BAD_IDS = [
  "a/b", "/abs", "../x", "..", ".", "a/../b", "x/", "a b", "tab\tid", "new\nline", "é", "a:b", "a*b", "$(x)", "a;b", "", "a".repeat(256), "a".repeat(1000), "\u2028",
];

/** Bad command lines (the bundle argument is a valid bundle, so only the line itself is wrong). */
export function cliCases(bundle: string, n: number, seed: number): CliCase[] {
  const r = rng(seed ^ 0x5eed);
  const out: CliCase[] = [];
  for (let i = 0; i < n; i++) {
    const category = CLI_CATEGORIES[i % CLI_CATEGORIES.length];
    const verb = pick(r, ID_VERBS);
    const tail = verb === "create" || verb === "run" ? ["--bundle", bundle] : verb === "update" ? ["--memory", "64m"] : [];
    switch (category) {
      case "unknown-flag": {
        const flag = pick(r, ["--bogus", "-z", "--bundle-x", "--forcee", "---", "--=x", "--root"]);
        out.push({ category, args: r() < 0.2 ? ["--nope", verb, "x"] : [verb, ...tail, flag, "fuzz-id"] });
        break;
      }
      case "missing-id":
        out.push({ category, args: [verb, ...tail] });
        break;
      case "bad-id":
        out.push({ category, args: [verb, ...tail, pick(r, BAD_IDS)] });
        break;
      case "bad-value": {
        const c = pick(r, [
          ["kill", "fuzz-id", pick(r, ["SIGBOGUS", "99999", "-9", "", "KILL KILL"])],
          ["create", "--bundle", bundle, "--preserve-fds", pick(r, ["-1", "x", "1.5", ""]), "fuzz-id"],
          ["--log-format", pick(r, ["xml", ""]), "state", "fuzz-id"],
          ["create", "--bundle", pick(r, ["", "/nonexistent", "/dev/null", "/proc/self/fd/0"]), "fuzz-id"],
          ["list", "--format", pick(r, ["yaml", ""])],
          ["events", "--interval", pick(r, ["-1s", "x", "0"]), "fuzz-id"],
          ["update", "--memory", pick(r, ["lots", "-5", "1q"]), "fuzz-id"],
          ["bogus-verb", "fuzz-id"],
        ]);
        out.push({ category, args: c });
        break;
      }
    }
  }
  return out;
}
