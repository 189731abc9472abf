// A client of the CRI streaming server (the URL an Exec or Attach call returns) over WebSocket with the
// "v4.channel.k8s.io" subprotocol: every binary message starts with its channel byte (0 stdin, 1 stdout,
// 2 stderr, 3 the error/status channel, 4 resize). Written for tsrun's CRI tests; run inside the network
// namespace the streaming server listens in (nsenter --net=...).
//   node ws-stream.mjs <url> <stdin text> <until text> <timeout ms>
// Sends the stdin text once the connection is up, reads until the server closes, `until` was seen on
// stdout, or the timeout; prints {"stdout","stderr","status","closed"} as JSON.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";

const [url, stdinText, until, timeoutMs] = process.argv.slice(2);
const u = new URL(url);
const sock = connect(Number(u.port), u.hostname);
const out = { stdout: "", stderr: "", status: "", closed: false };
const finish = () => {
  process.stdout.write(JSON.stringify(out));
  sock.destroy();
  process.exit(0);
};
setTimeout(finish, Number(timeoutMs));

/** One masked client frame (RFC 6455 5.3: a client masks everything it sends). */
function frame(opcode, payload) {
  const mask = randomBytes(4);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([head, mask, body]);
}

sock.on("connect", () => {
  sock.write(
    [
      `GET ${u.pathname}${u.search} HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
      "Sec-WebSocket-Version: 13",
      "Sec-WebSocket-Protocol: v4.channel.k8s.io",
      "",
      "",
    ].join("\r\n"),
  );
});

let buf = Buffer.alloc(0);
let upgraded = false;
sock.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  if (!upgraded) {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = buf.subarray(0, end).toString();
    if (!/^HTTP\/1\.1 101/.test(head)) {
      out.status = `no upgrade: ${head.split("\r\n")[0]}`;
      finish();
    }
    upgraded = true;
    buf = buf.subarray(end + 4);
    if (stdinText) sock.write(frame(2, Buffer.concat([Buffer.from([0]), Buffer.from(stdinText)])));
  }
  for (;;) {
    if (buf.length < 2) return;
    const opcode = buf[0] & 15;
    let len = buf[1] & 127;
    let off = 2;
    if (len === 126) [len, off] = [buf.readUInt16BE(2), 4];
    else if (len === 127) [len, off] = [Number(buf.readBigUInt64BE(2)), 10];
    if (buf.length < off + len) return;
    const payload = buf.subarray(off, off + len);
    buf = buf.subarray(off + len);
    if (opcode === 8) {
      out.closed = true;
      return finish();
    }
    if (opcode === 9) sock.write(frame(10, payload));
    if ((opcode === 1 || opcode === 2) && payload.length > 0) {
      const text = payload.subarray(1).toString();
      if (payload[0] === 1) out.stdout += text;
      else if (payload[0] === 2) out.stderr += text;
      else if (payload[0] === 3) out.status += text;
      if (until && out.stdout.includes(until)) return finish();
    }
  }
});
sock.on("close", () => {
  out.closed = true;
  finish();
});
sock.on("error", (e) => {
  out.status += `socket: ${e.message}`;
  finish();
});
