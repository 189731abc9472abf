/**
 * Binary encoding of the launch plan (layout documented in ops.ts). Pure functions.
 */
import { PLAN_MAGIC, PLAN_VERSION, type Op, type PlanRecord } from "./ops.js";

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);

/** An int as the u64 written to the plan: negative values become two's complement. */
function toU64(v: number | bigint, where: string): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (Number.isSafeInteger(v)) b = BigInt(v);
  else throw new RangeError(`${where}: ${v} is not a safe integer (use a bigint)`);
  if (b < I64_MIN || b > U64_MAX) throw new RangeError(`${where}: ${b} does not fit in 64 bits`);
  return b < 0n ? b + (1n << 64n) : b;
}

/** Encode records into the plan tsrun-init reads. Throws on a string containing NUL. */
export function encodePlan(records: PlanRecord[]): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write(PLAN_MAGIC, 0, "latin1");
  header.writeUInt32LE(PLAN_VERSION, 4);
  header.writeUInt32LE(records.length, 8);
  parts.push(header);

  records.forEach((rec, i) => {
    const ints = rec.ints ?? [];
    const strs = (rec.strs ?? []).map((s, k) => {
      if (s.includes("\0")) throw new RangeError(`plan record ${i} (op ${rec.op}) string ${k} contains NUL`);
      return Buffer.from(s + "\0", "utf8");
    });
    const strLen = strs.reduce((n, b) => n + b.length, 0);
    const head = Buffer.alloc(16 + 8 * ints.length);
    head.writeUInt32LE(rec.op, 0);
    head.writeUInt32LE(ints.length, 4);
    head.writeUInt32LE(strs.length, 8);
    head.writeUInt32LE(8 * ints.length + strLen, 12);
    ints.forEach((v, k) => head.writeBigUInt64LE(toU64(v, `plan record ${i} (op ${rec.op}) int ${k}`), 16 + 8 * k));
    parts.push(head, ...strs);
  });
  return Buffer.concat(parts);
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
