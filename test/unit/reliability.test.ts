// Pure pieces of the reliability work: runc's id rule, strict UTF-8 configs, state.json checking,
// and the fuzzer's determinism (a failing seed must name the same case again).
import { ConfigError, UsageError } from "../../src/errors.js";
import { decodeUtf8, parseJson } from "../../src/spec/load.js";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lockFile } from "../../src/state/lock.js";
import { CorruptStateError, checkId, parseRecord } from "../../src/state/store.js";
import { BAD_IDS, CONFIG_CATEGORIES, cliCases, configCases, rng } from "../helpers/fuzz.js";

describe("container ids (runc's rule)", () => {
  test.each(["a", "A-b_c.d+e", "a,b", "x".repeat(255), "1", "-a"])("%s is accepted", (id) => expect(checkId(id)).toBe(id));
  test.each([...BAD_IDS.filter((i) => i !== ""), "a\0b", "\0"])("%j is refused with one line", (id) => {
    expect(() => checkId(id)).toThrow(UsageError);
    try {
      checkId(id);
    } catch (e) {
      expect((e as Error).message).not.toMatch(/[\n\r\0]/);
    }
  });
  test("empty is refused", () => expect(() => checkId("")).toThrow("container id cannot be empty"));
  test("1,000 characters: refused naming the limit", () => expect(() => checkId("a".repeat(1000))).toThrow("invalid container id (1000 characters): at most 255"));
});

describe("config.json must be UTF-8", () => {
  test("valid text, with a BOM and with U+FFFD spelled out, decodes", () => {
    expect(decodeUtf8(Buffer.from('\ufeff{"a":"é\ufffd"}'))).toBe('\ufeff{"a":"é\ufffd"}');
  });
  test.each([[[0xff]], [[0xc3, 0x28]], [[0xed, 0xa0, 0x80]], [[0xc0, 0xaf]]])("bytes %j: a ConfigError naming the byte and line", (bad) => {
    const bytes = Buffer.concat([Buffer.from('{\n"hostname": "é'), Buffer.from(bad), Buffer.from('"}')]);
    expect(() => decodeUtf8(bytes)).toThrow(ConfigError);
    expect(() => decodeUtf8(bytes)).toThrow(`not valid UTF-8 (byte 17, line 2: 0x${bad[0].toString(16)})`);
  });
});

describe("state.json records", () => {
  const good = { id: "c1", status: "created", pid: 5, pidStartTime: 7, creatorPid: 1, creatorStartTime: 2, cgroupPath: "/tsrun/c1", cgroupCreated: [] };
  test("a complete record parses", () => expect(parseRecord("c1", JSON.stringify(good)).pid).toBe(5));
  test.each([
    ["truncated", JSON.stringify(good).slice(0, 20)],
    ["empty", ""],
    ["an array", "[]"],
    ["another id", JSON.stringify({ ...good, id: "c2" })],
    ["an unknown status", JSON.stringify({ ...good, status: "zombie" })],
    ["a string pid", JSON.stringify({ ...good, pid: "5" })],
    ["no cgroupCreated", JSON.stringify({ ...good, cgroupCreated: undefined })],
  ])("%s: CorruptStateError that says how to clean up", (_what, text) => {
    expect(() => parseRecord("c1", text)).toThrow(CorruptStateError);
    expect(() => parseRecord("c1", text)).toThrow("tsrun delete --force c1");
  });
});

describe("fuzzer", () => {
  const base = { ociVersion: "1.2.0", root: { path: "/r" }, process: { args: ["sh"], cwd: "/", user: { uid: 0, gid: 0 } } };
  test("the same seed gives the same cases; another seed others", () => {
    const a = configCases(base, 50, 3).map((c) => c.bytes.toString("base64"));
    expect(configCases(base, 50, 3).map((c) => c.bytes.toString("base64"))).toEqual(a);
    expect(configCases(base, 50, 4).map((c) => c.bytes.toString("base64"))).not.toEqual(a);
    expect(cliCases("/b", 20, 3)).toEqual(cliCases("/b", 20, 3));
  });
  test("every category is used in turn", () => {
    expect(configCases(base, 20, 1).map((c) => c.category)).toEqual([...CONFIG_CATEGORIES, ...CONFIG_CATEGORIES]);
  });
  test("rng is uniform enough to reach every choice", () => {
    const r = rng(1);
    const seen = new Set(Array.from({ length: 1000 }, () => Math.floor(r() * 10)));
    expect(seen.size).toBe(10);
  });
});

describe("integers beyond 64 bits", () => {
  test.each(["18446744073709551616", "-9223372036854775809", "99999999999999999999999"])("%s is refused naming where it is", (n) => {
    expect(() => parseJson(`{"a": "99999999999999999999999",\n "b": ${n}}`)).toThrow(`integer ${n} at line 2 column 7 does not fit in 64 bits`);
  });
  test.each(["18446744073709551615", "-9223372036854775808", "1e400", "123456789012345678.5"])("%s parses (the schema judges it)", (n) => {
    expect(() => parseJson(`{"b": ${n}}`)).not.toThrow();
  });
  test("18446744073709552000, JavaScript's spelling of 2^64-1, is read as 2^64-1 (JSON.stringify of an unlimited rlimit)", () => {
    expect(String(2 ** 64 - 1)).toBe("18446744073709552000");
    expect(parseJson(JSON.stringify({ hard: 2 ** 64 - 1 }))).toEqual({ hard: 2 ** 64 - 1 });
  });
  test("digits inside strings are not numbers", () => expect(parseJson('{"a": "x\\"99999999999999999999999"}')).toEqual({ a: 'x"99999999999999999999999' }));
});

describe("lock files", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsrun-lock-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const errors = { missing: () => new Error("missing"), busy: () => new Error("busy") };

  test("unlock removes the lock it holds", () => {
    const unlock = lockFile(join(dir, "a"), 100, errors);
    expect(existsSync(join(dir, "a"))).toBe(true);
    unlock();
    expect(existsSync(join(dir, "a"))).toBe(false);
  });
  test("unlock leaves a lock that is no longer its own (the directory was made again and locked by another)", () => {
    const unlock = lockFile(join(dir, "b"), 100, errors);
    writeFileSync(join(dir, "b"), `${process.ppid} 1`);
    unlock();
    expect(readFileSync(join(dir, "b"), "utf8")).toBe(`${process.ppid} 1`);
  });
  test("a stale lock is removed only under the takeover guard, so two waiters never both take it", () => {
    const me = `${process.pid} ${readFileSync(`/proc/${process.pid}/stat`, "utf8").split(") ")[1].split(" ")[19]}`;
    writeFileSync(join(dir, "e"), "999999999 1"); // a dead holder
    writeFileSync(join(dir, "e.takeover"), me); // another (live) waiter is taking it over
    expect(() => lockFile(join(dir, "e"), 50, errors)).toThrow("busy");
    expect(readFileSync(join(dir, "e"), "utf8")).toBe("999999999 1"); // left to the guard's holder
    writeFileSync(join(dir, "e.takeover"), "999999999 1"); // a guard whose holder died is cleared
    lockFile(join(dir, "e"), 100, errors)();
    expect(existsSync(join(dir, "e")) || existsSync(join(dir, "e.takeover"))).toBe(false);
  });
  test("a lock of a dead holder is taken over; a missing directory is reported", () => {
    writeFileSync(join(dir, "c"), "999999999 1");
    lockFile(join(dir, "c"), 100, errors)();
    expect(() => lockFile(join(dir, "gone", "d"), 100, errors)).toThrow("missing");
  });
});
