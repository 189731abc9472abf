/**
 * The seccomp filter cache (src/security/seccomp/cache.ts): a hit gives back what compiling gives, and
 * nothing but this build's well-formed entry for exactly this profile, in files only the caller could
 * have written, is ever used.
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_ENTRIES, SeccompCache, decodeEntry, dropCacheWhenNoContainers, encodeEntry, entryName, wellFormed } from "../../src/security/seccomp/cache.js";
import { compileSeccomp } from "../../src/security/seccomp/compile.js";
import type { LinuxSeccomp } from "../../src/spec/types.js";

const profile = (errno = 1): LinuxSeccomp => ({
  defaultAction: "SCMP_ACT_ALLOW",
  syscalls: [{ names: ["mkdir", "rmdir"], action: "SCMP_ACT_ERRNO", errnoRet: errno }],
});

let root: string;
let dir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "tsrun-seccomp-cache-"));
  dir = join(root, "@seccomp-cache");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A cached compiler for build "b1" that counts the compiles it had to do; each call is one create that succeeded (save). */
function counted(build = "b1") {
  let compiles = 0;
  const cache = new SeccompCache(dir, build);
  const compileFn = cache.compiler((p) => {
    compiles++;
    return compileSeccomp(p);
  });
  const compile = (p: LinuxSeccomp) => {
    const r = compileFn(p);
    cache.save();
    return r;
  };
  return { compile, compiles: () => compiles };
}
const entryPath = (p: LinuxSeccomp, build = "b1") => join(dir, entryName(build, JSON.stringify(p)));

test("a miss compiles and keeps the filter; a hit gives the same filter without compiling", () => {
  const c = counted();
  const first = c.compile(profile());
  expect(first).toEqual(compileSeccomp(profile()));
  expect(readdirSync(dir)).toEqual([entryName("b1", JSON.stringify(profile()))]);
  const second = c.compile(profile());
  expect(second).toEqual(first);
  expect(c.compiles()).toBe(1);
  // Another profile is another entry.
  c.compile(profile(2));
  expect(c.compiles()).toBe(2);
  expect(readdirSync(dir)).toHaveLength(2);
});

test("nothing is written before save (a create that fails leaves no entry)", () => {
  const cache = new SeccompCache(dir, "b1");
  cache.compiler((p) => compileSeccomp(p))(profile());
  expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  cache.save();
  expect(readdirSync(dir)).toHaveLength(1);
});

test("the cache goes when the state root has no container left", () => {
  counted().compile(profile());
  dropCacheWhenNoContainers(root, () => ["c1"]);
  expect(readdirSync(dir)).toHaveLength(1);
  dropCacheWhenNoContainers(root, () => []);
  expect(readdirSync(root)).toEqual([]);
  // already gone: nothing to do, and the state root is not even listed (every delete comes here)
  expect(() => dropCacheWhenNoContainers(root, () => { throw new Error("listed the state root"); })).not.toThrow();
});

test("the cache directory and its entries are private to the caller (0700, 0600)", () => {
  counted().compile(profile());
  expect(readdirSync(dir, { withFileTypes: true })[0]!.isFile()).toBe(true);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(statSync(entryPath(profile())).mode & 0o777).toBe(0o600);
});

test("another build's entry is not used: the profile is compiled again and the entry replaced", () => {
  counted("old").compile(profile());
  // Same file name for the new build's key: write the old build's entry under it.
  writeFileSync(entryPath(profile(), "new"), readFileSync(entryPath(profile(), "old")));
  const c = counted("new");
  c.compile(profile());
  expect(c.compiles()).toBe(1);
  expect(JSON.parse(readFileSync(entryPath(profile(), "new"), "utf8")).build).toBe("new");
});

test("an entry of another profile under this profile's name (a hash collision) is a miss", () => {
  const other = compileSeccomp(profile(7));
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(entryPath(profile()), encodeEntry("b1", JSON.stringify(profile(7)), other), { mode: 0o600 });
  const c = counted();
  expect(c.compile(profile())).toEqual(compileSeccomp(profile()));
  expect(c.compiles()).toBe(1);
  expect(JSON.parse(readFileSync(entryPath(profile()), "utf8")).profile).toBe(JSON.stringify(profile()));
});

test("a tampered or truncated entry is a miss, compiled again and rewritten", () => {
  const c = counted();
  c.compile(profile());
  const path = entryPath(profile());
  const e = JSON.parse(readFileSync(path, "utf8"));
  // A jump past the end of the program.
  e.filter[0] = [0x15, 200, 0, 0];
  writeFileSync(path, JSON.stringify(e));
  expect(c.compile(profile())).toEqual(compileSeccomp(profile()));
  expect(c.compiles()).toBe(2);
  // Rewritten: the next call is a hit again.
  c.compile(profile());
  expect(c.compiles()).toBe(2);
  writeFileSync(path, readFileSync(path, "utf8").slice(0, 100));
  c.compile(profile());
  expect(c.compiles()).toBe(3);
});

test("an entry that is a symlink, group-writable, or owned by someone else is not used", () => {
  const c = counted();
  c.compile(profile());
  const path = entryPath(profile());
  const elsewhere = join(root, "planted.json");
  writeFileSync(elsewhere, readFileSync(path));
  rmSync(path);
  symlinkSync(elsewhere, path);
  c.compile(profile());
  expect(c.compiles()).toBe(2);

  c.compile(profile()); // rewritten in place of the link: a hit
  expect(c.compiles()).toBe(2);
  chmodSync(path, 0o620);
  c.compile(profile());
  expect(c.compiles()).toBe(3);

  if (process.geteuid?.() === 0) {
    chownSync(path, 65534, 65534);
    c.compile(profile());
    expect(c.compiles()).toBe(4);
  } else {
    console.log("seccomp cache: not root, the foreign-owner case was not checked");
  }
});

test("a cache directory others may write to is not used at all", () => {
  mkdirSync(dir, { mode: 0o777 });
  chmodSync(dir, 0o777);
  const c = counted();
  c.compile(profile());
  c.compile(profile());
  expect(c.compiles()).toBe(2);
  expect(readdirSync(dir)).toEqual([]);
});

test(`bounded: at most ${MAX_ENTRIES} entries, the least recently used go first`, () => {
  const c = counted();
  for (let i = 1; i <= MAX_ENTRIES + 4; i++) {
    c.compile(profile(i));
    // Distinct use times, one second apart, whatever the file system's timestamp granularity.
    const t = new Date(Date.UTC(2026, 0, 1, 0, 0, i));
    utimesSync(entryPath(profile(i)), t, t);
  }
  const names = readdirSync(dir);
  expect(names.length).toBeLessThanOrEqual(MAX_ENTRIES);
  expect(names).toContain(entryName("b1", JSON.stringify(profile(MAX_ENTRIES + 4))));
  expect(names).not.toContain(entryName("b1", JSON.stringify(profile(1))));
});

test("a profile that does not compile fails as before and leaves no entry", () => {
  const c = counted();
  expect(() => c.compile({ defaultAction: "SCMP_ACT_NOTIFY" } as LinuxSeccomp)).toThrow(/defaultAction/);
  expect(() => readdirSync(dir)).toThrow(/ENOENT/);
});

describe("decodeEntry / wellFormed", () => {
  const text = JSON.stringify(profile());
  const c = compileSeccomp(profile());
  test("round trip", () => {
    expect(decodeEntry(encodeEntry("b", text, c), "b", text)).toEqual(c);
  });
  test("refused: not JSON, another build, another profile, bad fields", () => {
    expect(decodeEntry("{", "b", text)).toBeUndefined();
    expect(decodeEntry(encodeEntry("a", text, c), "b", text)).toBeUndefined();
    expect(decodeEntry(encodeEntry("b", text + " ", c), "b", text)).toBeUndefined();
    const e = JSON.parse(encodeEntry("b", text, c));
    expect(decodeEntry(JSON.stringify({ ...e, flags: "1" }), "b", text)).toBeUndefined();
    expect(decodeEntry(JSON.stringify({ ...e, skipped: [1] }), "b", text)).toBeUndefined();
    expect(decodeEntry(JSON.stringify({ ...e, filter: [[6, 0, 0]] }), "b", text)).toBeUndefined();
  });
  test("a program must end in a return, keep every jump inside, and fields in range", () => {
    const ret = { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 };
    expect(wellFormed([ret])).toBe(true);
    expect(wellFormed([])).toBe(false);
    expect(wellFormed([{ code: 0x20, jt: 0, jf: 0, k: 4 }])).toBe(false);
    expect(wellFormed([{ code: 0x15, jt: 0, jf: 1, k: 0 }, ret])).toBe(false);
    expect(wellFormed([{ code: 0x15, jt: 0, jf: 0, k: 0 }, ret])).toBe(true);
    expect(wellFormed([{ code: 0x05, jt: 0, jf: 0, k: 1 }, ret])).toBe(false);
    expect(wellFormed([{ code: 0x06, jt: 0, jf: 0, k: 2 ** 32 }])).toBe(false);
    expect(wellFormed([{ code: 0x06, jt: 0, jf: 0, k: 1.5 }])).toBe(false);
  });
});
