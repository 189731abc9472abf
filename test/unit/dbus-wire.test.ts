/**
 * src/cgroups/systemd/dbus-{signature,marshal,wire}.ts: tsrun's D-Bus wire format. Byte-exact messages
 * built by hand from the specification, round trips of every type, the alignment rules, and input a
 * broken or hostile peer could send (which must throw DbusWireError, never loop or read past the end).
 */
import { DbusWireError } from "../../src/errors.js";
import { WireReader, WireWriter, readValues, writeValues } from "../../src/cgroups/systemd/dbus-marshal.js";
import { parseSignature, signatureOf } from "../../src/cgroups/systemd/dbus-signature.js";
import { type DbusMessage, MessageType, decodeMessage, encodeMessage, messageLength } from "../../src/cgroups/systemd/dbus-wire.js";

const ascii = (s: string) => [...Buffer.from(s, "ascii")];
const hex = (b: Uint8Array | number[]) => Buffer.from(b as Uint8Array).toString("hex");

/** Marshal `values` by `sig` from a message's start; the bytes. */
function marshal(sig: string, values: unknown[]): Uint8Array {
  const w = new WireWriter();
  writeValues(w, sig, values);
  return w.result();
}

/** Unmarshal all of `bytes` by `sig`; it must consume exactly all of them. */
function unmarshal(sig: string, bytes: Uint8Array | number[], littleEndian = true): unknown[] {
  const r = new WireReader(Uint8Array.from(bytes), littleEndian);
  const values = readValues(r, sig);
  expect(r.pos).toBe(bytes.length);
  return values;
}

// The Hello call every client sends first, written out from the spec's message format.
const HELLO = [
  0x6c, 0x01, 0x00, 0x01, // 'l' (little-endian), METHOD_CALL, no flags, protocol version 1
  0, 0, 0, 0, // body length 0
  1, 0, 0, 0, // serial 1
  109, 0, 0, 0, // header fields a(yv): 109 bytes, from offset 16
  1, 1, 0x6f, 0, 21, 0, 0, 0, ...ascii("/org/freedesktop/DBus"), 0, // @16 PATH: variant "o", 21 bytes + nul
  0, 0, // each field struct starts on 8: @48
  2, 1, 0x73, 0, 20, 0, 0, 0, ...ascii("org.freedesktop.DBus"), 0, // INTERFACE "s"
  0, 0, 0, // @80
  3, 1, 0x73, 0, 5, 0, 0, 0, ...ascii("Hello"), 0, // MEMBER
  0, 0, // @96
  6, 1, 0x73, 0, 20, 0, 0, 0, ...ascii("org.freedesktop.DBus"), 0, // DESTINATION, ends @125 = 16 + 109
  0, 0, 0, // the header is padded to 8: the (empty) body would start @128
];
const HELLO_MESSAGE = {
  type: MessageType.MethodCall,
  serial: 1,
  path: "/org/freedesktop/DBus",
  interface: "org.freedesktop.DBus",
  member: "Hello",
  destination: "org.freedesktop.DBus",
} as const;

describe("messages", () => {
  test("the Hello call is byte for byte what the spec gives", () => {
    expect(HELLO.length).toBe(128);
    expect(hex(encodeMessage(HELLO_MESSAGE))).toBe(hex(HELLO));
    expect(messageLength(Uint8Array.from(HELLO))).toBe(128);
    expect(decodeMessage(Uint8Array.from(HELLO))).toEqual({ ...HELLO_MESSAGE, flags: 0, signature: "", body: [] });
  });

  test("a reply with a body: the SIGNATURE field, and the body starts on 8", () => {
    const reply = encodeMessage({ type: MessageType.MethodReturn, serial: 7, replySerial: 1, destination: ":1.5", sender: "org.freedesktop.DBus", signature: "s", body: [":1.5"] });
    const bodyLength = new DataView(reply.buffer).getUint32(4, true);
    expect(bodyLength).toBe(4 + 4 + 1); // u32 length, ":1.5", nul
    expect((reply.length - bodyLength) % 8).toBe(0);
    expect(hex(reply.subarray(reply.length - bodyLength))).toBe(hex([4, 0, 0, 0, ...ascii(":1.5"), 0]));
    expect(decodeMessage(reply)).toEqual({
      type: MessageType.MethodReturn, flags: 0, serial: 7, replySerial: 1, destination: ":1.5", sender: "org.freedesktop.DBus", signature: "s", body: [":1.5"],
    });
  });

  test("error and signal messages round-trip with their required fields", () => {
    const error: DbusMessage = { type: MessageType.Error, flags: 0, serial: 3, replySerial: 2, errorName: "org.freedesktop.DBus.Error.UnknownMethod", signature: "s", body: ["no such method"] };
    expect(decodeMessage(encodeMessage(error))).toEqual(error);
    const signal: DbusMessage = {
      type: MessageType.Signal, flags: 1, serial: 0xffffffff, path: "/org/freedesktop/systemd1", interface: "org.freedesktop.systemd1.Manager",
      member: "JobRemoved", signature: "uoss", body: [42, "/org/freedesktop/systemd1/job/42", "tsrun-c1.scope", "done"],
    };
    expect(decodeMessage(encodeMessage(signal))).toEqual(signal);
  });

  test("a big-endian message is read too", () => {
    const be = [
      0x42, 0x02, 0x00, 0x01, // 'B', METHOD_RETURN, no flags, version 1
      0, 0, 0, 6, // body length 6
      0, 0, 0, 9, // serial 9
      0, 0, 0, 16, // header fields: 16 bytes
      5, 1, 0x75, 0, 0, 0, 0, 3, // @16 REPLY_SERIAL "u" 3
      8, 1, 0x67, 0, 2, 0x75, 0x71, 0, // @24 SIGNATURE "g" "uq"; the header ends @32, on 8
      0, 0, 1, 0, 0x12, 0x34, // body: u 256, q 0x1234
    ];
    expect(decodeMessage(Uint8Array.from(be))).toEqual({ type: MessageType.MethodReturn, flags: 0, serial: 9, replySerial: 3, signature: "uq", body: [256, 0x1234] });
  });
});

describe("values by signature", () => {
  const cases: [string, unknown[]][] = [
    ["y", [0]],
    ["y", [255]],
    ["b", [true]],
    ["b", [false]],
    ["n", [-32768]],
    ["q", [65535]],
    ["i", [-2147483648]],
    ["u", [4294967295]],
    ["x", [-(2 ** 53) + 1]],
    ["x", [-(1n << 63n)]],
    ["x", [(1n << 63n) - 1n]],
    ["t", [0]],
    ["t", [2 ** 53 - 1]],
    ["t", [(1n << 64n) - 1n]],
    ["d", [Math.PI]],
    ["d", [-0.5]],
    ["s", [""]],
    ["s", ["Grüße, 世界"]],
    ["o", ["/"]],
    ["o", ["/org/freedesktop/systemd1/unit/tsrun_2dc1_2escope"]],
    ["g", ["a(sv)"]],
    ["g", [""]],
    ["h", [0]],
    ["as", [["a", "bc", ""]]],
    ["au", [[1, 2, 3]]],
    ["at", [[1, (1n << 64n) - 1n]]],
    ["aas", [[["x"], [], ["y", "z"]]]],
    ["(ybnqiuxtdsog)", [[1, true, -2, 3, -4, 5, -6, 7, 0.25, "s", "/o", "g"]]],
    ["a{sv}", [[["MemoryMax", { type: "t", value: 67108864 }], ["Delegate", { type: "b", value: true }]]]],
    ["a{ua(ss)}", [[[1, [["/dev/null", "rwm"]]], [2, []]]]],
    ["a(sv)", [[["AllowedCPUs", { type: "ay", value: Uint8Array.from([3]) }], ["DeviceAllow", { type: "a(ss)", value: [["char-pts", "rwm"]] }]]]],
    ["ssa(sv)a(sa(sv))", ["tsrun-c1.scope", "replace", [["PIDs", { type: "au", value: [4242] }]], []]],
    ["v", [{ type: "v", value: { type: "as", value: ["nested"] } }]],
    ["yv", [7, { type: "(tt)", value: [1, 2] }]],
  ];
  test.each(cases)("%s round-trips", (sig, values) => {
    const bytes = marshal(sig, values);
    expect(unmarshal(sig, bytes)).toEqual(values);
  });

  test("ay: a Uint8Array or a number[] in, a Uint8Array out", () => {
    const fromArray = marshal("ay", [[1, 2, 255]]);
    const fromBytes = marshal("ay", [Uint8Array.from([1, 2, 255])]);
    expect(hex(fromArray)).toBe(hex(fromBytes));
    expect(hex(fromBytes)).toBe("03000000" + "0102ff");
    expect(unmarshal("ay", fromBytes)[0]).toEqual(Uint8Array.from([1, 2, 255]));
  });

  test("x and t: numbers where exact, bigints beyond 2^53; either accepted in", () => {
    expect(unmarshal("t", marshal("t", [5n]))).toEqual([5]);
    expect(unmarshal("t", marshal("t", [2 ** 53]))).toEqual([2n ** 53n]);
    expect(unmarshal("x", marshal("x", [-(2 ** 53)]))).toEqual([-(2n ** 53n)]);
    expect(hex(marshal("t", [(1n << 64n) - 1n]))).toBe("ffffffffffffffff");
  });

  test("a dict can be given as a Map", () => {
    const m = new Map([["a", 1], ["b", 2]]);
    expect(unmarshal("a{su}", marshal("a{su}", [m]))).toEqual([[["a", 1], ["b", 2]]]);
  });

  test("signatures parse into their types and back", () => {
    for (const sig of ["y", "a{sv}", "a(sa(sv))", "(a{s(ii)}v)", "aay"]) expect(parseSignature(sig).map(signatureOf).join("")).toBe(sig);
    expect(parseSignature("ssa(sv)").length).toBe(3);
  });
});

describe("alignment, byte for byte", () => {
  const cases: [string, string, unknown[], number[]][] = [
    ["y then t: t on 8", "yt", [1, 2], [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]],
    ["y then q: q on 2", "yq", [1, 0x0203], [1, 0, 3, 2]],
    ["y then n then i", "yni", [1, -1, 1], [1, 0, 0xff, 0xff, 1, 0, 0, 0]],
    ["b is a u32 0/1", "yb", [9, true], [9, 0, 0, 0, 1, 0, 0, 0]],
    ["y then g: g on 1", "yg", [1, "u"], [1, 1, 0x75, 0]],
    ["y then v: the signature on 1, the u32 inside on 4", "yv", [1, { type: "u", value: 7 }], [1, 1, 0x75, 0, 7, 0, 0, 0]],
    // t, array length @8, padding to 16 for the t elements; the length (8) excludes that padding.
    ["array length excludes the padding before its first element", "tat", [1, [2]], [1, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]],
    ["an empty array still pads to its element's alignment", "ta(t)", [1, []], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    ["struct on 8", "y(y)", [1, [2]], [1, 0, 0, 0, 0, 0, 0, 0, 2]],
    ["dict entries on 8", "a{yy}", [[[1, 2], [3, 4]]], [10, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 3, 4]],
    ["s: u32 length, bytes, nul", "ys", [1, "ab"], [1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0x62, 0]],
  ];
  test.each(cases)("%s", (_name, sig, values, bytes) => {
    expect(hex(marshal(sig, values))).toBe(hex(bytes));
    expect(unmarshal(sig, bytes)).toEqual(values);
  });
});

describe("values that do not fit their signature are refused with the place named", () => {
  const bad: [string, unknown[], RegExp][] = [
    ["y", [256], /value 0: 256 does not fit D-Bus type "y"/],
    ["u", [-1], /does not fit/],
    ["i", [1.5], /does not fit/],
    ["t", [-1n], /does not fit/],
    ["t", [1n << 64n], /does not fit/],
    ["x", [1n << 63n], /does not fit/],
    ["b", [1], /does not fit D-Bus type "b"/],
    ["s", [5], /does not fit/],
    ["s", ["a\0b"], /does not fit/],
    ["o", ["org/x"], /not a valid object path/],
    ["o", ["/a//b"], /not a valid object path/],
    ["o", ["/a/"], /not a valid object path/],
    ["g", ["a"], /invalid D-Bus signature/],
    ["v", [5], /does not fit D-Bus type "v"/],
    ["v", [{ type: "ss", value: ["a", "b"] }], /exactly one complete type/],
    ["(su)", [["a"]], /an array of 1 does not fit/],
    ["a(sv)", [[["X", { type: "t", value: "64M" }]]], /value 0\[0\]\[1\]\.value: "64M" does not fit D-Bus type "t"/],
    ["ay", [[1, 300]], /value 0\[1\]/],
    ["as", ["abc"], /does not fit D-Bus type "as"/],
    ["s", [], /takes 1 value\(s\), got 0/],
  ];
  test.each(bad)("%s %p", (sig, values, message) => {
    expect(() => marshal(sig, values)).toThrow(DbusWireError);
    expect(() => marshal(sig, values)).toThrow(message);
  });

  test("a message without the fields its type needs is not built", () => {
    expect(() => encodeMessage({ type: MessageType.MethodCall, serial: 1, path: "/" })).toThrow(/needs header field\(s\) member/);
    expect(() => encodeMessage({ type: MessageType.Error, serial: 1, replySerial: 1 })).toThrow(/errorName/);
    expect(() => encodeMessage({ ...HELLO_MESSAGE, serial: 0 })).toThrow(/serial 0/);
  });
});

describe("invalid signatures", () => {
  const bad: [string, RegExp][] = [
    ["a", /ends inside/],
    ["(ss", /never closed/],
    ["()", /empty struct/],
    ["{sv}", /outside an array/],
    ["a{vs}", /not a basic type/],
    ["a{sss}", /exactly a key and a value/],
    ["a{s}", /exactly a key and a value|unexpected/],
    ["z", /unexpected "z"/],
    ["s)", /unexpected "\)"/],
    ["a".repeat(33) + "y", /arrays nested deeper than 32/],
    ["(".repeat(33) + "y" + ")".repeat(33), /structs nested deeper than 32/],
    ["y".repeat(256), /longer than 255/],
  ];
  test.each(bad)("%s", (sig, message) => {
    expect(() => parseSignature(sig)).toThrow(DbusWireError);
    expect(() => parseSignature(sig)).toThrow(message);
  });
});

describe("broken or hostile input throws DbusWireError", () => {
  const valid = encodeMessage({
    type: MessageType.Signal, serial: 5, path: "/org/freedesktop/systemd1", interface: "org.freedesktop.systemd1.Manager", member: "JobRemoved",
    signature: "uossa{sv}", body: [1, "/org/freedesktop/systemd1/job/1", "u.scope", "done", [["k", { type: "at", value: [1, 2] }]]],
  });

  test("every truncation of a valid message", () => {
    for (let n = 0; n < valid.length; n++) {
      expect(() => decodeMessage(valid.subarray(0, n))).toThrow(DbusWireError);
    }
    expect(messageLength(valid.subarray(0, 15))).toBeUndefined();
    expect(messageLength(valid.subarray(0, 16))).toBe(valid.length);
  });

  test("every truncation of its body, with the header's body length made to agree", () => {
    const bodyLength = new DataView(valid.buffer).getUint32(4, true);
    const headerEnd = valid.length - bodyLength;
    for (let n = headerEnd; n < valid.length; n++) {
      const cut = valid.slice(0, n);
      new DataView(cut.buffer).setUint32(4, n - headerEnd, true);
      expect(() => decodeMessage(cut)).toThrow(DbusWireError);
    }
  });

  test("a body that says it is longer than it is", () => {
    // A stream reader waits for the claimed length; decoding what is there must not read past it.
    const copy = Uint8Array.from(valid);
    new DataView(copy.buffer).setUint32(4, copy.length, true);
    expect(() => decodeMessage(copy)).toThrow(/bytes where the header says/);
  });

  /** Replace the body of a valid reply of signature `sig` by `body` (lengths fixed up). */
  function withBody(sig: string, values: unknown[], body: number[]): Uint8Array {
    const m = encodeMessage({ type: MessageType.MethodReturn, serial: 2, replySerial: 1, signature: sig, body: values });
    const bodyLength = new DataView(m.buffer).getUint32(4, true);
    const out = new Uint8Array(m.length - bodyLength + body.length);
    out.set(m.subarray(0, m.length - bodyLength));
    out.set(body, m.length - bodyLength);
    new DataView(out.buffer).setUint32(4, body.length, true);
    return out;
  }

  const hostile: [string, string, unknown[], number[], RegExp][] = [
    ["an array length past the message", "ay", [[]], [0xff, 0xff, 0xff, 0x00], /truncated D-Bus message: an array of 16777215 bytes/],
    ["an array length over the 64 MiB limit", "ay", [[]], [0xff, 0xff, 0xff, 0xff], /over the 67108864 limit/],
    ["a string length past the message", "s", [""], [0xf0, 0xff, 0xff, 0x7f, 0], /truncated/],
    ["a string without its nul", "s", ["a"], [1, 0, 0, 0, 0x61, 0x62], /not nul-terminated/],
    ["a nul inside a string", "s", ["ab"], [2, 0, 0, 0, 0x61, 0, 0], /contains a nul/],
    ["a string that is not UTF-8", "s", ["ab"], [2, 0, 0, 0, 0xc3, 0x28, 0], /not valid UTF-8/],
    ["a boolean of 2", "b", [true], [2, 0, 0, 0], /boolean 2/],
    ["non-zero padding", "yu", [1, 1], [1, 9, 9, 9, 1, 0, 0, 0], /non-zero padding/],
    ["an element running past its array", "au", [[1]], [2, 0, 0, 0, 1, 0, 0, 0], /runs past the array's length/],
    ["a variant with an invalid signature", "v", [{ type: "y", value: 1 }], [1, 0x7a, 0, 0], /invalid D-Bus signature "z"/],
    ["a variant with two types", "v", [{ type: "y", value: 1 }], [2, 0x79, 0x79, 0, 1, 1], /exactly one complete type/],
    ["a bad object path", "o", ["/a"], [2, 0, 0, 0, 0x61, 0x61, 0], /not a valid object path/],
    ["bytes left after the body's values", "y", [1], [1, 2], /ends at 1 of 2 bytes/],
  ];
  test.each(hostile)("%s", (_name, sig, values, body, message) => {
    const m = withBody(sig, values, body);
    expect(() => decodeMessage(m)).toThrow(DbusWireError);
    expect(() => decodeMessage(m)).toThrow(message);
  });

  test("variants nested past the depth limit (a stack bomb) are refused", () => {
    // v holding v holding v ... 200 deep: each level is a signature "v" (3 bytes).
    const body = [...Array.from({ length: 200 }, () => [1, 0x76, 0]).flat(), 1, 0x79, 0, 7];
    expect(() => decodeMessage(withBody("v", [{ type: "y", value: 7 }], body))).toThrow(/nested deeper than 64/);
  });

  test("a header no message has: byte order, version, length over 128 MiB, unknown type", () => {
    const patch = (at: number, v: number) => {
      const c = Uint8Array.from(valid);
      c[at] = v;
      return c;
    };
    expect(() => messageLength(patch(0, 0x41))).toThrow(/byte order mark 0x41/);
    expect(() => messageLength(patch(3, 2))).toThrow(/protocol version 2/);
    expect(() => messageLength(patch(7, 0x10))).toThrow(/over the 134217728 limit/);
    expect(() => decodeMessage(patch(1, 5))).toThrow(/unknown message type 5/);
    expect(() => decodeMessage(patch(1, 0))).toThrow(/unknown message type 0/);
  });

  test("a header field of the wrong type, a missing required one, unix fds", () => {
    const m = encodeMessage({ type: MessageType.MethodReturn, serial: 2, replySerial: 1 });
    // REPLY_SERIAL's variant signature "u" -> "i".
    const wrong = Uint8Array.from(m);
    wrong[18] = 0x69;
    expect(() => decodeMessage(wrong)).toThrow(/header field 5 has type "i"/);
    // Field code 5 -> 42 (unknown: ignored), which leaves the reply without its REPLY_SERIAL.
    const unknown = Uint8Array.from(m);
    unknown[16] = 42;
    expect(() => decodeMessage(unknown)).toThrow(/needs header field\(s\) replySerial/);
    const fds = Uint8Array.from(m);
    fds[16] = 9;
    expect(() => decodeMessage(fds)).toThrow(/unix fds/);
  });

  test("random corruption: every mutant decodes or throws DbusWireError, nothing else", () => {
    let seed = 17;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const c = Uint8Array.from(valid);
      for (let k = 1 + rand(3); k > 0; k--) c[rand(c.length)] = rand(256);
      const cut = rand(4) === 0 ? c.subarray(0, rand(c.length)) : c;
      try {
        decodeMessage(cut);
      } catch (e) {
        if (!(e instanceof DbusWireError)) throw e;
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });
});
