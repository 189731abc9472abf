/**
 * Binary encoding of the launch plan (layout documented in ops.ts). Pure functions.
 */
import { PLAN_MAGIC, PLAN_VERSION, type Op, type PlanRecord } from "./ops.js";

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

/** Check an int for the plan: a safe integer or a bigint that fits in 64 bits (negative: two's complement). */
function checkInt(v: number | bigint, where: string): void {
  if (typeof v === "bigint") {
    if (v < I64_MIN || v > U64_MAX) throw new RangeError(`${where}: ${v} does not fit in 64 bits`);
  } else if (!Number.isSafeInteger(v)) {
    throw new RangeError(`${where}: ${v} is not a safe integer (use a bigint)`);
  }
}

/** Write an int as a little-endian u64 (numbers without BigInt: this runs cold, once per create). */
function putInt(view: DataView, off: number, v: number | bigint): void {
  if (typeof v === "bigint") {
    view.setBigUint64(off, v < 0n ? v + (1n << 64n) : v, true);
    return;
  }
  const high = Math.floor(v / 0x1_0000_0000);
  view.setUint32(off, v - high * 0x1_0000_0000, true);
  view.setUint32(off + 4, high >>> 0, true);
}

const utf8 = new TextEncoder();

/**
 * Encode records into the plan tsrun-init reads. Throws on a string containing NUL. One buffer,
 * sized first and filled once: the plan has ~90 records, and per-record Buffer calls cost ~2 ms cold.
 */
export function encodePlan(records: PlanRecord[]): Buffer {
  const encoded = records.map((rec, i) => {
    const ints = rec.ints ?? [];
    ints.forEach((v, k) => checkInt(v, `plan record ${i} (op ${rec.op}) int ${k}`));
    const raw = rec.rawInts ?? new Uint8Array(0);
    if (raw.length % 8) throw new RangeError(`plan record ${i} (op ${rec.op}): rawInts is ${raw.length} bytes, not a multiple of 8`);
    const strs = (rec.strs ?? []).map((s, k) => {
      if (s.includes("\0")) throw new RangeError(`plan record ${i} (op ${rec.op}) string ${k} contains NUL`);
      return utf8.encode(s);
    });
    return { op: rec.op, ints, raw, nint: ints.length + raw.length / 8, strs, strLen: strs.reduce((n, b) => n + b.length + 1, 0) };
  });
  const size = encoded.reduce((n, r) => n + 16 + 8 * r.nint + r.strLen, 12);
  const out = Buffer.alloc(size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let k = 0; k < 4; k++) out[k] = PLAN_MAGIC.charCodeAt(k);
  view.setUint32(4, PLAN_VERSION, true);
  view.setUint32(8, records.length, true);
  let off = 12;
  for (const r of encoded) {
    view.setUint32(off, r.op, true);
    view.setUint32(off + 4, r.nint, true);
    view.setUint32(off + 8, r.strs.length, true);
    view.setUint32(off + 12, 8 * r.nint + r.strLen, true);
    off += 16;
    for (const v of r.ints) {
      putInt(view, off, v);
      off += 8;
    }
    out.set(r.raw, off);
    off += r.raw.length;
    for (const b of r.strs) {
      out.set(b, off);
      off += b.length + 1; // the NUL: Buffer.alloc zero-filled it
    }
  }
  return out;
}

/**
 * Decode a plan (tests and debugging). Ints come back as bigint (u64, as stored); a record with no
 * ints or no strings still gets empty arrays.
 */
export function decodePlan(buf: Buffer): PlanRecord[] {
  const fail = (msg: string): never => {
    throw new RangeError(`bad plan: ${msg}`);
  };
  if (buf.length < 12 || buf.toString("latin1", 0, 4) !== PLAN_MAGIC) fail("missing TSRP header");
  const version = buf.readUInt32LE(4);
  if (version !== PLAN_VERSION) fail(`version ${version}, expected ${PLAN_VERSION}`);
  const count = buf.readUInt32LE(8);
  const records: PlanRecord[] = [];
  let off = 12;
  for (let i = 0; i < count; i++) {
    if (buf.length - off < 16) fail(`record ${i} truncated`);
    const op = buf.readUInt32LE(off) as Op;
    const nint = buf.readUInt32LE(off + 4);
    const nstr = buf.readUInt32LE(off + 8);
    const paylen = buf.readUInt32LE(off + 12);
    off += 16;
    const end = off + paylen;
    if (end > buf.length || nint * 8 > paylen) fail(`record ${i}: payload overruns the plan`);
    const ints: bigint[] = [];
    for (let k = 0; k < nint; k++) ints.push(buf.readBigUInt64LE(off + 8 * k));
    let p = off + 8 * nint;
    const strs: string[] = [];
    for (let k = 0; k < nstr; k++) {
      const z = buf.indexOf(0, p);
      if (z < 0 || z >= end) fail(`record ${i}: string ${k} not terminated`);
      strs.push(buf.toString("utf8", p, z));
      p = z + 1;
    }
    if (p !== end) fail(`record ${i}: payload length mismatch`);
    records.push({ op, ints, strs });
    off = end;
  }
  if (off !== buf.length) fail(`${buf.length - off} trailing bytes`);
  return records;
}
