// D-Bus server addresses (the specification's "Server Addresses"): `transport:key=value,...`, entries
// separated by `;`, values %-escaped. We connect to unix sockets only: path=, abstract=, runtime=yes.
import { DbusError } from "../../errors.js";

/** A socket to try: `socketPath` is what net.createConnection takes ("\0name" for an abstract one). */
export interface BusSocket {
  socketPath: string;
  /** For messages: the path, or "@name" for an abstract socket. */
  shown: string;
}

/** The unix sockets of `address`, in the order to try them; DbusError when it names none. */
export function parseBusAddress(address: string, runtimeDir = process.env.XDG_RUNTIME_DIR): BusSocket[] {
  const sockets: BusSocket[] = [];
  for (const entry of address.split(";")) {
    const colon = entry.indexOf(":");
    if (colon < 0 || entry.slice(0, colon) !== "unix") continue;
    const keys = new Map<string, string>();
    for (const pair of entry.slice(colon + 1).split(",")) {
      const eq = pair.indexOf("=");
      if (eq > 0) keys.set(pair.slice(0, eq), unescape(pair.slice(eq + 1), address));
    }
    const path = keys.get("path");
    const abstract = keys.get("abstract");
    if (path) sockets.push({ socketPath: path, shown: path });
    else if (abstract) sockets.push({ socketPath: `\0${abstract}`, shown: `@${abstract}` });
    else if (keys.get("runtime") === "yes" && runtimeDir) sockets.push({ socketPath: `${runtimeDir}/bus`, shown: `${runtimeDir}/bus` });
  }
  if (sockets.length === 0) {
    throw new DbusError("org.freedesktop.DBus.Error.BadAddress", `D-Bus address "${address}" names no unix socket (unix:path=, unix:abstract= or unix:runtime=yes)`);
  }
  return sockets;
}

function unescape(value: string, address: string): string {
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== "%") {
      bytes.push(...Buffer.from(value[i], "utf8"));
      continue;
    }
    const hex = value.slice(i + 1, i + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new DbusError("org.freedesktop.DBus.Error.BadAddress", `D-Bus address "${address}": bad %-escape at "${value.slice(i, i + 3)}"`);
    bytes.push(parseInt(hex, 16));
    i += 2;
  }
  return Buffer.from(bytes).toString("utf8");
}

/** `value` for an address, every byte outside the spec's optionally-escaped set as %XX. */
export function escapeAddressValue(value: string): string {
  return [...Buffer.from(value, "utf8")]
    .map((b) => (/[-0-9A-Za-z_/.\\*]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, "0")}`))
    .join("");
}
