// The client side of D-Bus authentication (the specification's "Authentication Protocol"): a nul
// byte, then SASL EXTERNAL with our uid (the bus checks it against the socket's peer credentials),
// then BEGIN, after which the stream carries messages.

/** What the client sends first: the credentials nul byte and `AUTH EXTERNAL <uid as hex-encoded ASCII decimal>`. */
export function authRequest(uid: number): string {
  return `\0AUTH EXTERNAL ${Buffer.from(String(uid), "ascii").toString("hex")}\r\n`;
}

export const AUTH_BEGIN = "BEGIN\r\n";

/** The longest server line we wait for before calling the peer broken. */
export const MAX_AUTH_LINE = 4096;

export type AuthReply = { ok: true; guid: string } | { ok: false; detail: string };

/** The server's answer to AUTH: `OK <guid>` accepts; REJECTED (with the mechanisms it offers), ERROR or anything else refuses. */
export function parseAuthReply(line: string): AuthReply {
  const [command, ...rest] = line.split(" ");
  if (command === "OK" && rest.length === 1 && /^[0-9a-fA-F]+$/.test(rest[0])) return { ok: true, guid: rest[0] };
  if (command === "REJECTED") return { ok: false, detail: `EXTERNAL rejected (the bus offers: ${rest.join(" ") || "nothing"})` };
  if (command === "ERROR") return { ok: false, detail: `error: ${rest.join(" ") || "(no text)"}` };
  return { ok: false, detail: `unexpected reply "${line.slice(0, 80)}"` };
}
