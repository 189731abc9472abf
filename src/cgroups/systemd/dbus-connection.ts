// One connection to a message bus over a unix socket: authenticate, Hello, method calls matched to
// their replies by serial (each with a timeout), signals handed to listeners, close. Plain
// net.createConnection({ path }) so that it runs the same on Node and in the Bun-compiled CLI.
import { createConnection, type Socket } from "node:net";
import { DbusError, DbusWireError } from "../../errors.js";
import { parseBusAddress, type BusSocket } from "./dbus-address.js";
import { AUTH_BEGIN, MAX_AUTH_LINE, authRequest, parseAuthReply } from "./dbus-auth.js";
import { type DbusMessage, FIXED_HEADER_LENGTH, MessageFlag, MessageType, decodeMessage, encodeMessage, messageLength } from "./dbus-wire.js";

export const BUS_NAME = "org.freedesktop.DBus";
export const BUS_PATH = "/org/freedesktop/DBus";
/** libdbus's default reply timeout. */
export const DEFAULT_CALL_TIMEOUT_MS = 25_000;

export interface MethodCall {
  destination?: string;
  path: string;
  interface?: string;
  member: string;
  signature?: string;
  body?: unknown[];
  /** MessageFlag bits, e.g. NoAutoStart. */
  flags?: number;
}

export interface ConnectOptions {
  /** For messages: "system bus", "user bus" (default "bus"). */
  label?: string;
  /** The whole of connect, authentication and Hello (default 10 s). */
  timeoutMs?: number;
  /** The uid to authenticate as (default: ours). */
  uid?: number;
}

interface Pending {
  resolve: (m: DbusMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const err = (name: string, message: string) => new DbusError(`org.freedesktop.DBus.Error.${name}`, message);

export class DbusConnection {
  /** Our unique name on the bus (":1.42"), from Hello. */
  uniqueName = "";
  private serial = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly signalListeners = new Set<(m: DbusMessage) => void>();
  private readonly closeListeners = new Set<(e: DbusError) => void>();
  /** Bytes received and not yet made into messages, and how many a whole next message needs. */
  private inbox: Buffer[] = [];
  private buffered = 0;
  private needed = FIXED_HEADER_LENGTH;
  private closedWith: DbusError | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly label: string,
  ) {}

  /** Connect to the first socket of `address` that answers, authenticate and say Hello. */
  static async connect(address: string, options: ConnectOptions = {}): Promise<DbusConnection> {
    const label = options.label ?? "bus";
    const sockets = parseBusAddress(address);
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    let last: Error | undefined;
    for (const s of sockets) {
      try {
        return await DbusConnection.connectOne(s, label, options.uid ?? process.getuid?.() ?? 0, deadline);
      } catch (e) {
        last = e as Error;
      }
    }
    throw last;
  }

  private static async connectOne(target: BusSocket, label: string, uid: number, deadline: number): Promise<DbusConnection> {
    const socket = createConnection({ path: target.socketPath });
    const where = `the ${label} at ${target.shown}`;
    const conn = new DbusConnection(socket, label);
    await new Promise<void>((resolve, reject) => {
      let line = "";
      const ms = Math.max(1, deadline - Date.now());
      const timer = setTimeout(() => fail(err("Timeout", `${where}: no answer to authentication within ${ms} ms`)), ms);
      const done = () => {
        clearTimeout(timer);
        socket.off("connect", onConnect).off("error", onError).off("close", onClose).off("data", onData);
      };
      const fail = (e: DbusError) => {
        done();
        socket.destroy();
        reject(e);
      };
      const onConnect = () => socket.write(authRequest(uid));
      const onError = (e: NodeJS.ErrnoException) => {
        let reason = e.code === "ENOENT" ? "no such socket" : e.code === "ECONNREFUSED" ? "connection refused (nothing listens)" : e.message;
        // Node 20's net cannot reach an abstract socket (it stops at the leading nul); Bun's can.
        if (target.socketPath.startsWith("\0") && !process.versions.bun) reason += "; this Node cannot reach abstract sockets (the tsrun binary can)";
        fail(err(e.code === "ENOENT" ? "FileNotFound" : "NoServer", `cannot connect to ${where}: ${reason}`));
      };
      const onClose = () => fail(err("Disconnected", `${where} closed the connection during authentication`));
      const onData = (chunk: Buffer) => {
        line += chunk.toString("latin1");
        const end = line.indexOf("\r\n");
        if (end < 0) {
          if (line.length > MAX_AUTH_LINE) fail(err("AuthFailed", `${where}: authentication reply longer than ${MAX_AUTH_LINE} bytes`));
          return;
        }
        const reply = parseAuthReply(line.slice(0, end));
        if (!reply.ok) return fail(err("AuthFailed", `${where}: authentication as uid ${uid} failed: ${reply.detail}`));
        done();
        // Bytes after the OK line would already be messages (none are due before BEGIN, but keep them).
        conn.receive(Buffer.from(line.slice(end + 2), "latin1"));
        resolve();
      };
      socket.on("connect", onConnect).on("error", onError).on("close", onClose).on("data", onData);
    });
    conn.listen(where);
    socket.write(AUTH_BEGIN);
    try {
      const hello = await conn.call({ destination: BUS_NAME, path: BUS_PATH, interface: BUS_NAME, member: "Hello" }, Math.max(1, deadline - Date.now()));
      conn.uniqueName = String(hello.body[0]);
    } catch (e) {
      conn.close();
      throw e;
    }
    // Nothing outstanding must not keep the process alive; pending calls hold their own timers.
    socket.unref();
    return conn;
  }

  private listen(where: string): void {
    this.socket.on("data", (chunk: Buffer) => {
      this.receive(chunk);
      this.drain();
    });
    this.socket.on("error", (e) => this.shutDown(err("Disconnected", `${where}: ${e.message}`)));
    this.socket.on("close", () => this.shutDown(err("Disconnected", `${where} closed the connection`)));
    if (this.buffered) setImmediate(() => this.drain());
  }

  private receive(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.inbox.push(chunk);
    this.buffered += chunk.length;
  }

  /** Take every complete message out of the inbox; a malformed one ends the connection. */
  private drain(): void {
    while (!this.closedWith && this.buffered >= this.needed) {
      let m: DbusMessage;
      try {
        // Joined only when a whole message is there: a large one arriving in many reads is copied once.
        const bytes = this.inbox.length === 1 ? this.inbox[0] : Buffer.concat(this.inbox);
        this.inbox = [bytes];
        const total = messageLength(bytes)!;
        this.needed = total;
        if (bytes.length < total) return;
        m = decodeMessage(bytes.subarray(0, total));
        const rest = bytes.subarray(total);
        this.inbox = rest.length ? [rest] : [];
        this.buffered = rest.length;
        this.needed = FIXED_HEADER_LENGTH;
      } catch (e) {
        const why = e instanceof DbusWireError ? e.message : String(e);
        return this.shutDown(err("Disconnected", `${this.label}: dropped the connection after a malformed message: ${why}`));
      }
      this.dispatch(m);
    }
  }

  private dispatch(m: DbusMessage): void {
    if (m.type === MessageType.MethodReturn || m.type === MessageType.Error) {
      const p = this.pending.get(m.replySerial!);
      if (!p) return;
      this.pending.delete(m.replySerial!);
      clearTimeout(p.timer);
      if (m.type === MessageType.MethodReturn) p.resolve(m);
      else p.reject(new DbusError(m.errorName!, typeof m.body[0] === "string" ? m.body[0] : m.errorName!));
    } else if (m.type === MessageType.Signal) {
      for (const listener of this.signalListeners) listener(m);
    } else if (!(m.flags & MessageFlag.NoReplyExpected)) {
      // Nobody calls us on purpose; answering keeps a caller from waiting out its timeout.
      this.send({
        type: MessageType.Error,
        errorName: "org.freedesktop.DBus.Error.UnknownMethod",
        replySerial: m.serial,
        destination: m.sender,
        signature: "s",
        body: [`this connection serves no methods (${m.interface ?? ""}.${m.member ?? ""})`],
      });
    }
  }

  private send(m: Omit<DbusMessage, "serial" | "flags" | "signature" | "body"> & { signature?: string; body?: unknown[]; flags?: number }): number {
    if (this.closedWith) throw this.closedWith;
    this.serial = this.serial >= 0xffffffff ? 1 : this.serial + 1;
    this.socket.write(encodeMessage({ ...m, serial: this.serial }));
    return this.serial;
  }

  /** Call a method and wait for its reply: DbusError with the peer's error name, or NoReply after timeoutMs. */
  call(c: MethodCall, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<DbusMessage> {
    return new Promise((resolve, reject) => {
      const serial = this.send({ type: MessageType.MethodCall, ...c });
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(err("NoReply", `${this.label}: no reply to ${c.interface ? `${c.interface}.` : ""}${c.member} from ${c.destination ?? "the bus"} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(serial, { resolve, reject, timer });
    });
  }

  /** A call to the bus itself (org.freedesktop.DBus). */
  callBus(member: string, signature = "", body: unknown[] = [], timeoutMs?: number): Promise<DbusMessage> {
    return this.call({ destination: BUS_NAME, path: BUS_PATH, interface: BUS_NAME, member, signature, body }, timeoutMs);
  }

  /** Ask the bus to route signals matching `rule` (match rule syntax, e.g. "type='signal',member='X'") to us. */
  async addMatch(rule: string, timeoutMs?: number): Promise<void> {
    await this.callBus("AddMatch", "s", [rule], timeoutMs);
  }

  /** Every signal that reaches us goes to `listener`; the function returned removes it. */
  onSignal(listener: (m: DbusMessage) => void): () => void {
    this.signalListeners.add(listener);
    return () => this.signalListeners.delete(listener);
  }

  /** `listener` hears why the connection ended (at once if it has); the function returned removes it. */
  onClose(listener: (e: DbusError) => void): () => void {
    if (this.closedWith) {
      listener(this.closedWith);
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  close(): void {
    this.shutDown(err("Disconnected", `${this.label}: connection closed`));
  }

  private shutDown(why: DbusError): void {
    if (this.closedWith) return;
    this.closedWith = why;
    this.socket.destroy();
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(why);
    }
    this.pending.clear();
    for (const listener of this.closeListeners) listener(why);
    this.closeListeners.clear();
    this.signalListeners.clear();
  }
}
