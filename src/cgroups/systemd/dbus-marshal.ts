// D-Bus values to bytes and back, by type (the specification's "Marshaling (Wire Format)"): every
// value starts on its type's alignment counted from the message start, padding is zero bytes.
// Values: integers as numbers (x and t: bigint beyond 2^53, either accepted in), b as boolean,
// s/o/g as strings, ay as Uint8Array (number[] accepted in), arrays and structs as arrays, a dict as
// an array of [key, value] pairs (a Map accepted in), a variant as { type: signature, value }.
import { DbusWireError } from "../../errors.js";
import { type DbusType, alignOf, parseSignature, parseSingle, signatureOf } from "./dbus-signature.js";

/** A variant: a value with its own signature (one complete type). */
export interface Variant {
  type: string;
  value: unknown;
}

/** The spec's limits: an array's contents at most 64 MiB; values nest at most 64 deep, variants included. */
export const MAX_ARRAY_LENGTH = 1 << 26;
const MAX_DEPTH = 64;

const OBJECT_PATH = /^\/(?:[A-Za-z0-9_]+(?:\/[A-Za-z0-9_]+)*)?$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

const INT_RANGES: Record<string, [number, number]> = {
  y: [0, 0xff],
  n: [-0x8000, 0x7fff],
  q: [0, 0xffff],
  i: [-0x80000000, 0x7fffffff],
  u: [0, 0xffffffff],
  h: [0, 0xffffffff],
};
const I64: [bigint, bigint] = [-(1n << 63n), (1n << 63n) - 1n];
const U64: [bigint, bigint] = [0n, (1n << 64n) - 1n];

/** A growable little-endian buffer whose positions count from the message start. */
export class WireWriter {
  private buf = new Uint8Array(128);
  private view = new DataView(this.buf.buffer);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    bigger.set(this.buf.subarray(0, this.pos));
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }

  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this.room(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.pos++] = v;
  }

  /** Write a fixed-size number of `size` bytes with the DataView setter `set`. */
  fixed(size: number, set: (view: DataView, at: number) => void): void {
    this.align(size);
    this.room(size);
    set(this.view, this.pos);
    this.pos += size;
  }

  u32(v: number): void {
    this.fixed(4, (d, at) => d.setUint32(at, v, true));
  }

  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** Marshal `values` by `signature`; `w` positions count from the message start. */
export function writeValues(w: WireWriter, signature: string, values: readonly unknown[]): void {
  const types = parseSignature(signature);
  if (values.length !== types.length) {
    throw wrongArg(`signature "${signature}" takes ${types.length} value(s), got ${values.length}`);
  }
  types.forEach((t, i) => writeValue(w, t, values[i], `value ${i}`, 0));
}

function writeValue(w: WireWriter, t: DbusType, v: unknown, at: string, depth: number): void {
  if (depth > MAX_DEPTH) throw wrongArg(`${at}: nested deeper than ${MAX_DEPTH}`);
  switch (t.code) {
    case "y":
    case "n":
    case "q":
    case "i":
    case "u":
    case "h": {
      const [lo, hi] = INT_RANGES[t.code];
      if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) throw mismatch(at, t, v);
      if (t.code === "y") return w.u8(v);
      if (t.code === "n") return w.fixed(2, (d, o) => d.setInt16(o, v, true));
      if (t.code === "q") return w.fixed(2, (d, o) => d.setUint16(o, v, true));
      if (t.code === "i") return w.fixed(4, (d, o) => d.setInt32(o, v, true));
      return w.u32(v);
    }
    case "x":
    case "t": {
      const big = typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : undefined;
      const [lo, hi] = t.code === "x" ? I64 : U64;
      if (big === undefined || big < lo || big > hi) throw mismatch(at, t, v);
      if (t.code === "x") return w.fixed(8, (d, o) => d.setBigInt64(o, big, true));
      return w.fixed(8, (d, o) => d.setBigUint64(o, big, true));
    }
    case "d":
      if (typeof v !== "number") throw mismatch(at, t, v);
      return w.fixed(8, (d, o) => d.setFloat64(o, v, true));
    case "b":
      if (typeof v !== "boolean") throw mismatch(at, t, v);
      return w.u32(v ? 1 : 0);
    case "s":
    case "o":
    case "g": {
      if (typeof v !== "string" || v.includes("\0")) throw mismatch(at, t, v);
      if (t.code === "o" && !OBJECT_PATH.test(v)) throw wrongArg(`${at}: "${v}" is not a valid object path`);
      if (t.code === "g") parseSignature(v);
      const text = encoder.encode(v);
      if (t.code === "g") w.u8(text.length);
      else w.u32(text.length);
      w.bytes(text);
      return w.u8(0);
    }
    case "v": {
      const variant = v as Variant;
      if (typeof variant !== "object" || variant === null || typeof variant.type !== "string") throw mismatch(at, t, v);
      const inner = parseSingle(variant.type);
      writeValue(w, { code: "g" }, variant.type, at, depth + 1);
      return writeValue(w, inner, variant.value, `${at}.value`, depth + 1);
    }
    case "a": {
      const raw = t.elem.code === "y" && v instanceof Uint8Array ? v : undefined;
      const items = v instanceof Map ? [...v] : v;
      if (!raw && !Array.isArray(items)) throw mismatch(at, t, v);
      w.u32(0);
      const lengthAt = w.pos - 4;
      w.align(alignOf(t.elem));
      const start = w.pos;
      if (raw) w.bytes(raw);
      else (items as unknown[]).forEach((item, i) => writeValue(w, t.elem, item, `${at}[${i}]`, depth + 1));
      const length = w.pos - start;
      if (length > MAX_ARRAY_LENGTH) throw wrongArg(`${at}: array of ${length} bytes is over the ${MAX_ARRAY_LENGTH} limit`);
      return w.patchU32(lengthAt, length);
    }
    case "(":
    case "{": {
      const fields = t.code === "(" ? t.fields : [t.key, t.value];
      if (!Array.isArray(v) || v.length !== fields.length) throw mismatch(at, t, v);
      w.align(8);
      return fields.forEach((f, i) => writeValue(w, f, v[i], `${at}[${i}]`, depth + 1));
    }
  }
}

/** Reads values out of `bytes`, bounds-checked: a truncated or malformed input throws DbusWireError. */
export class WireReader {
  private readonly view: DataView;
  pos: number;

  /** `origin`: where the message starts in `bytes` (alignment counts from there). */
  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    private readonly origin = 0,
    readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = origin;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw new DbusWireError(`truncated D-Bus message: ${what} needs ${n} byte(s) at offset ${this.pos - this.origin}, ${Math.max(0, this.end - this.pos)} left`);
    }
  }

  align(n: number): void {
    const pad = (n - ((this.pos - this.origin) % n)) % n;
    this.need(pad, "alignment padding");
    for (let i = 0; i < pad; i++) {
      if (this.bytes[this.pos + i] !== 0) throw new DbusWireError(`D-Bus message: non-zero padding at offset ${this.pos + i - this.origin}`);
    }
    this.pos += pad;
  }

  /** A fixed-size number of `size` bytes read with the DataView getter `get`. */
  fixed<T>(size: number, what: string, get: (view: DataView, at: number, le: boolean) => T): T {
    this.align(size);
    this.need(size, what);
    const v = get(this.view, this.pos, this.littleEndian);
    this.pos += size;
    return v;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++];
  }

  u32(what: string): number {
    return this.fixed(4, what, (d, o, le) => d.getUint32(o, le));
  }
}

/** Unmarshal the values of `signature` from `r`. */
export function readValues(r: WireReader, signature: string): unknown[] {
  return parseSignature(signature).map((t) => readValue(r, t, 0));
}

function readValue(r: WireReader, t: DbusType, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new DbusWireError(`D-Bus message: values nested deeper than ${MAX_DEPTH}`);
  const what = signatureOf(t);
  switch (t.code) {
    case "y":
      return r.u8(what);
    case "n":
      return r.fixed(2, what, (d, o, le) => d.getInt16(o, le));
    case "q":
      return r.fixed(2, what, (d, o, le) => d.getUint16(o, le));
    case "i":
      return r.fixed(4, what, (d, o, le) => d.getInt32(o, le));
    case "u":
    case "h":
      return r.u32(what);
    case "x":
      return narrow(r.fixed(8, what, (d, o, le) => d.getBigInt64(o, le)));
    case "t":
      return narrow(r.fixed(8, what, (d, o, le) => d.getBigUint64(o, le)));
    case "d":
      return r.fixed(8, what, (d, o, le) => d.getFloat64(o, le));
    case "b": {
      const v = r.u32(what);
      if (v > 1) throw new DbusWireError(`D-Bus message: boolean ${v} at offset ${r.pos - 4} (only 0 and 1 are allowed)`);
      return v === 1;
    }
    case "s":
    case "o":
    case "g": {
      const length = t.code === "g" ? r.u8(what) : r.u32(what);
      r.need(length + 1, `a string of ${length} bytes`);
      const raw = r.bytes.subarray(r.pos, r.pos + length);
      if (r.bytes[r.pos + length] !== 0) throw new DbusWireError(`D-Bus message: string at offset ${r.pos} is not nul-terminated`);
      if (raw.includes(0)) throw new DbusWireError(`D-Bus message: string at offset ${r.pos} contains a nul byte`);
      let text: string;
      try {
        text = decoder.decode(raw);
      } catch {
        throw new DbusWireError(`D-Bus message: string at offset ${r.pos} is not valid UTF-8`);
      }
      r.pos += length + 1;
      if (t.code === "o" && !OBJECT_PATH.test(text)) throw new DbusWireError(`D-Bus message: "${text.slice(0, 64)}" is not a valid object path`);
      if (t.code === "g") parseSignature(text);
      return text;
    }
    case "v": {
      const type = readValue(r, { code: "g" }, depth + 1) as string;
      return { type, value: readValue(r, parseSingle(type), depth + 1) } satisfies Variant;
    }
    case "a": {
      const length = r.u32(what);
      if (length > MAX_ARRAY_LENGTH) throw new DbusWireError(`D-Bus message: array of ${length} bytes is over the ${MAX_ARRAY_LENGTH} limit`);
      r.align(alignOf(t.elem));
      r.need(length, `an array of ${length} bytes`);
      const end = r.pos + length;
      if (t.elem.code === "y") {
        r.pos = end;
        // A copy, and a plain Uint8Array (Buffer's slice would be a view holding the whole input).
        return new Uint8Array(r.bytes.subarray(end - length, end));
      }
      const items: unknown[] = [];
      // Every element takes at least one byte, so this ends; one that runs past `end` is an error.
      while (r.pos < end) {
        items.push(readValue(r, t.elem, depth + 1));
        if (r.pos > end) throw new DbusWireError(`D-Bus message: an element of ${what} runs past the array's length`);
      }
      return items;
    }
    case "(":
    case "{": {
      r.align(8);
      const fields = t.code === "(" ? t.fields : [t.key, t.value];
      return fields.map((f) => readValue(r, f, depth + 1));
    }
  }
}

/** A 64-bit integer as a number where that is exact, else the bigint. */
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
function narrow(v: bigint): number | bigint {
  return v >= SAFE_MIN && v <= SAFE_MAX ? Number(v) : v;
}

function mismatch(at: string, t: DbusType, v: unknown): DbusWireError {
  const shown = typeof v === "bigint" ? `${v}n` : typeof v === "object" && v !== null ? (Array.isArray(v) ? `an array of ${v.length}` : "an object") : JSON.stringify(v);
  return wrongArg(`${at}: ${shown} does not fit D-Bus type "${signatureOf(t)}"`);
}

function wrongArg(message: string): DbusWireError {
  return new DbusWireError(`cannot marshal D-Bus value: ${message}`, "org.freedesktop.DBus.Error.InvalidArgs");
}
