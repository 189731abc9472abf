// D-Bus messages (the specification's "Message Format", protocol version 1): the fixed header, the
// header fields a(yv), padding to 8, then the body by its signature. We write little-endian and read
// either byte order.
import { DbusWireError } from "../../errors.js";
import { WireReader, WireWriter, readValues, writeValues, type Variant } from "./dbus-marshal.js";

export const MessageType = { MethodCall: 1, MethodReturn: 2, Error: 3, Signal: 4 } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MessageFlag = { NoReplyExpected: 0x1, NoAutoStart: 0x2, AllowInteractiveAuthorization: 0x4 } as const;

/** The spec's limit on a whole message. */
export const MAX_MESSAGE_LENGTH = 1 << 27;
/** The fixed part of the header, up to and including the header fields' array length. */
export const FIXED_HEADER_LENGTH = 16;

export interface DbusMessage {
  type: MessageType;
  flags: number;
  /** Nonzero; the sender's own numbering, what a reply's replySerial names. */
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  /** The body's signature ("" for none). */
  signature: string;
  body: unknown[];
}

/** What a caller gives to build a message: serial and the rest as DbusMessage, signature/body optional. */
export type OutgoingMessage = Omit<DbusMessage, "signature" | "body" | "flags"> & { signature?: string; body?: unknown[]; flags?: number };

/** Header field codes and the one type each carries. */
const FIELDS = [
  { code: 1, key: "path", type: "o" },
  { code: 2, key: "interface", type: "s" },
  { code: 3, key: "member", type: "s" },
  { code: 4, key: "errorName", type: "s" },
  { code: 5, key: "replySerial", type: "u" },
  { code: 6, key: "destination", type: "s" },
  { code: 7, key: "sender", type: "s" },
  { code: 8, key: "signature", type: "g" },
] as const;
const UNIX_FDS = 9;

/** The fields each message type must carry. */
const REQUIRED: Record<MessageType, (keyof DbusMessage)[]> = {
  1: ["path", "member"],
  2: ["replySerial"],
  3: ["errorName", "replySerial"],
  4: ["path", "interface", "member"],
};

/** The bytes of a message (little-endian). DbusWireError when a value does not fit its signature. */
export function encodeMessage(m: OutgoingMessage): Uint8Array {
  checkRequired(m, "cannot build");
  if (!Number.isInteger(m.serial) || m.serial < 1 || m.serial > 0xffffffff) throw new DbusWireError(`cannot build D-Bus message: serial ${m.serial} is not 1..2^32-1`, "org.freedesktop.DBus.Error.InvalidArgs");
  const signature = m.signature ?? "";
  const bodyWriter = new WireWriter();
  // The body starts on an 8-byte boundary of the message, so aligning from its own start is the same.
  writeValues(bodyWriter, signature, m.body ?? []);
  const body = bodyWriter.result();

  const fields: [number, Variant][] = [];
  for (const f of FIELDS) {
    const v = f.key === "signature" ? signature || undefined : m[f.key];
    if (v !== undefined) fields.push([f.code, { type: f.type, value: v }]);
  }
  const w = new WireWriter();
  for (const byte of [0x6c /* 'l' */, m.type, m.flags ?? 0, 1]) w.u8(byte);
  writeValues(w, "uua(yv)", [body.length, m.serial, fields]);
  w.align(8);
  w.bytes(body);
  if (w.pos > MAX_MESSAGE_LENGTH) throw new DbusWireError(`cannot build D-Bus message: ${w.pos} bytes is over the ${MAX_MESSAGE_LENGTH} limit`, "org.freedesktop.DBus.Error.LimitsExceeded");
  return w.result();
}

/**
 * The total length of the message that starts `bytes`, once its fixed header is there (undefined
 * before). Throws for a header no message has (byte order, version, lengths past the limits), so a
 * stream reader never waits for bytes that will not make a message.
 */
export function messageLength(bytes: Uint8Array): number | undefined {
  if (bytes.length < FIXED_HEADER_LENGTH) return undefined;
  const le = byteOrder(bytes[0]);
  if (bytes[3] !== 1) throw new DbusWireError(`D-Bus message: protocol version ${bytes[3]}, only 1 is known`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, FIXED_HEADER_LENGTH);
  const bodyLength = view.getUint32(4, le);
  const fieldsLength = view.getUint32(12, le);
  const total = align8(FIXED_HEADER_LENGTH + fieldsLength) + bodyLength;
  if (fieldsLength > MAX_MESSAGE_LENGTH || bodyLength > MAX_MESSAGE_LENGTH || total > MAX_MESSAGE_LENGTH) {
    throw new DbusWireError(`D-Bus message: claims ${total} bytes, over the ${MAX_MESSAGE_LENGTH} limit`);
  }
  return total;
}

/** Decode exactly one message; DbusWireError for anything truncated, inconsistent or malformed. */
export function decodeMessage(bytes: Uint8Array): DbusMessage {
  const total = messageLength(bytes);
  if (total === undefined) throw new DbusWireError(`truncated D-Bus message: ${bytes.length} bytes, the fixed header alone is ${FIXED_HEADER_LENGTH}`);
  if (bytes.length !== total) throw new DbusWireError(`D-Bus message: ${bytes.length} bytes where the header says ${total}`);
  const le = byteOrder(bytes[0]);
  const type = bytes[1];
  if (type < 1 || type > 4) throw new DbusWireError(`D-Bus message: unknown message type ${type}`);
  const r = new WireReader(bytes, le);
  r.pos = 4;
  const [bodyLength, serial, fields] = readValues(r, "uua(yv)") as [number, number, [number, Variant][]];
  if (serial === 0) throw new DbusWireError("D-Bus message: serial 0");
  const m: DbusMessage = { type: type as MessageType, flags: bytes[2], serial, signature: "", body: [] };
  const header = m as unknown as Record<string, unknown>;
  for (const [code, v] of fields) {
    if (code === UNIX_FDS) throw new DbusWireError("D-Bus message: carries unix fds, which this client never asks for");
    const f = FIELDS.find((x) => x.code === code);
    if (!f) continue; // unknown fields are ignored, as the spec says
    if (v.type !== f.type) throw new DbusWireError(`D-Bus message: header field ${code} has type "${v.type}", not "${f.type}"`);
    header[f.key] = v.value;
  }
  checkRequired(m, "malformed");
  r.align(8);
  const bodyStart = r.pos;
  if (bodyStart + bodyLength !== total) throw new DbusWireError("D-Bus message: header and body lengths disagree");
  const body = new WireReader(bytes, le, bodyStart);
  m.body = readValues(body, m.signature);
  if (body.pos !== total) throw new DbusWireError(`D-Bus message: body of signature "${m.signature}" ends at ${body.pos - bodyStart} of ${bodyLength} bytes`);
  return m;
}

function byteOrder(b: number): boolean {
  if (b === 0x6c) return true; // 'l'
  if (b === 0x42) return false; // 'B'
  throw new DbusWireError(`D-Bus message: byte order mark 0x${b.toString(16)} is neither 'l' nor 'B'`);
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

function checkRequired(m: Partial<DbusMessage>, verb: string): void {
  const missing = (REQUIRED[m.type as MessageType] ?? []).filter((k) => m[k] === undefined);
  if (missing.length) {
    const name = verb === "malformed" ? "org.freedesktop.DBus.Error.InconsistentMessage" : "org.freedesktop.DBus.Error.InvalidArgs";
    throw new DbusWireError(`${verb} D-Bus message: message type ${m.type} needs header field(s) ${missing.join(", ")}`, name);
  }
}
