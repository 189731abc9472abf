import { decodePlan, encodePlan } from "../../src/launch/encode.js";
import { Op, type PlanRecord } from "../../src/launch/ops.js";

describe("encodePlan", () => {
  test("header: magic, version, record count", () => {
    const buf = encodePlan([{ op: Op.READY }, { op: Op.NO_NEW_PRIVS }]);
    expect(buf.subarray(0, 4).toString("latin1")).toBe("TSRP");
    expect(buf.readUInt32LE(4)).toBe(1);
    expect(buf.readUInt32LE(8)).toBe(2);
    expect(buf.length).toBe(12 + 16 + 16);
  });

  test("byte layout of a known record", () => {
    const buf = encodePlan([{ op: Op.MOUNT, ints: [0x1000, 1], strs: ["a", "", "bc"] }]);
    const rec = buf.subarray(12);
    // prettier-ignore
    const expected = Buffer.from([
      9, 0, 0, 0,  2, 0, 0, 0,  3, 0, 0, 0,  16 + 2 + 1 + 3, 0, 0, 0,
      0x00, 0x10, 0, 0, 0, 0, 0, 0,
      1, 0, 0, 0, 0, 0, 0, 0,
      0x61, 0,  0,  0x62, 0x63, 0,
    ]);
    expect(rec).toEqual(expected);
  });

  test("negative numbers are two's complement u64, bigints up to 2^64-1", () => {
    const buf = encodePlan([{ op: Op.RLIMIT, ints: [7, -1, (1n << 64n) - 1n] }]);
    expect(buf.readBigUInt64LE(12 + 16)).toBe(7n);
    expect(buf.readBigUInt64LE(12 + 24)).toBe(0xffffffffffffffffn);
    expect(buf.readBigUInt64LE(12 + 32)).toBe(0xffffffffffffffffn);
    expect(buf.readBigInt64LE(12 + 24)).toBe(-1n);
  });

  test("numbers across the 32-bit halves are the same u64 as their bigint", () => {
    const vals = [0x1_0000_0000, 0xffff_ffff, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -0x1_0000_0005, -0x8000_0000];
    const buf = encodePlan([{ op: Op.RLIMIT, ints: vals }]);
    vals.forEach((v, k) => expect(buf.readBigInt64LE(12 + 16 + 8 * k)).toBe(BigInt(v)));
  });

  test("rawInts follow ints as more u64s, bytes as given; a length not a multiple of 8 is refused", () => {
    const raw = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0x80, 2, 0, 0, 0, 0, 0, 0, 0]);
    const [rec] = decodePlan(encodePlan([{ op: Op.RLIMIT, ints: [7], rawInts: raw, strs: ["x"] }]));
    expect(rec!.ints).toEqual([7n, 0x8000000000000001n, 2n]);
    expect(rec!.strs).toEqual(["x"]);
    expect(() => encodePlan([{ op: Op.RLIMIT, rawInts: new Uint8Array(5) }])).toThrow(RangeError);
  });

  test("rejects strings with NUL, out of range and unsafe ints", () => {
    expect(() => encodePlan([{ op: Op.CHDIR, strs: ["/a\0b"] }])).toThrow(/NUL/);
    expect(() => encodePlan([{ op: Op.UMASK, ints: [1n << 64n] }])).toThrow(RangeError);
    expect(() => encodePlan([{ op: Op.UMASK, ints: [-(1n << 63n) - 1n] }])).toThrow(RangeError);
    expect(() => encodePlan([{ op: Op.UMASK, ints: [2 ** 60] }])).toThrow(/safe integer/);
    expect(() => encodePlan([{ op: Op.UMASK, ints: [1.5] }])).toThrow(RangeError);
  });

  test("strings are UTF-8", () => {
    const [rec] = decodePlan(encodePlan([{ op: Op.SETHOSTNAME, strs: ["hôte-☃"] }]));
    expect(rec.strs).toEqual(["hôte-☃"]);
  });
});

describe("decodePlan", () => {
  const plan: PlanRecord[] = [
    { op: Op.CLONE, ints: [0x7c020000, 1], strs: [] },
    { op: Op.SYNC, ints: [], strs: ["idmap"] },
    { op: Op.RLIMIT, ints: [7n, 1024n, (1n << 64n) - 1n], strs: [] },
    { op: Op.FIND_EXEC, ints: [], strs: ["/bin:/usr/bin", "sh"] },
    { op: Op.EXEC, ints: [2n], strs: ["sh", "-c", "PATH=/bin"] },
  ];

  test("round trip", () => {
    const back = decodePlan(encodePlan(plan));
    expect(back).toEqual(plan.map((r) => ({ op: r.op, ints: (r.ints ?? []).map((v) => BigInt(v)), strs: r.strs ?? [] })));
  });

  test("round trip of negative values gives their u64 form", () => {
    const [rec] = decodePlan(encodePlan([{ op: Op.MKNOD, ints: [0o20666, 1, 3, -1, -1], strs: ["/dev/null"] }]));
    expect(rec.ints?.[3]).toBe((1n << 64n) - 1n);
  });

  test("rejects a bad header, truncation and trailing bytes", () => {
    const good = encodePlan(plan);
    expect(() => decodePlan(Buffer.from("XXXX"))).toThrow(/header/);
    const v2 = Buffer.from(good);
    v2.writeUInt32LE(2, 4);
    expect(() => decodePlan(v2)).toThrow(/version/);
    expect(() => decodePlan(good.subarray(0, good.length - 1))).toThrow(/bad plan/);
    expect(() => decodePlan(Buffer.concat([good, Buffer.from([0])]))).toThrow(/trailing/);
  });
});
