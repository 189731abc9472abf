// Helpers for the D-Bus client tests: a private dbus-daemon in a temporary directory, and a bare peer
// on it (built on the wire codec alone, not on DbusConnection) that answers calls as a test wants:
// not at all (a silent peer), or as a stand-in for systemd.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authRequest } from "../../src/cgroups/systemd/dbus-auth.js";
import { type DbusMessage, MessageType, type OutgoingMessage, decodeMessage, encodeMessage, messageLength } from "../../src/cgroups/systemd/dbus-wire.js";

/**
 * A dbus-daemon of our own on unix:path=<dir>/bus (or, `abstract`, on an abstract socket named after
 * the directory); stop() kills it and removes the directory.
 */
export class PrivateBus {
  readonly dir = mkdtempSync(join(tmpdir(), "tsrun-dbus-"));
  readonly socketPath = join(this.dir, "bus");
  address = "";
  private daemon: ChildProcess | undefined;

  constructor(private readonly abstract = false) {}

  async start(): Promise<void> {
    const listen = this.abstract ? `unix:abstract=${this.socketPath}` : `unix:path=${this.socketPath}`;
    const daemon = spawn("dbus-daemon", ["--session", "--nofork", `--address=${listen}`, "--print-address"], { stdio: ["ignore", "pipe", "pipe"] });
    this.daemon = daemon;
    let stderr = "";
    daemon.stderr!.on("data", (d) => (stderr += d));
    this.address = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`dbus-daemon printed no address within 10 s: ${stderr}`)), 10_000);
      daemon.on("error", (e) => reject(e));
      daemon.on("exit", (code) => reject(new Error(`dbus-daemon exited with ${code}: ${stderr}`)));
      daemon.stdout!.on("data", (d) => {
        out += d;
        if (out.includes("\n")) {
          clearTimeout(timer);
          resolve(out.split("\n")[0].trim());
        }
      });
    });
  }

  stop(): void {
    this.daemon?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A bus client with no logic of its own: `onMessage` sees every message that reaches it. */
export class BarePeer {
  uniqueName = "";
  onMessage: (m: DbusMessage) => void = () => {};
  private serial = 0;
  private inbox = Buffer.alloc(0);
  private readonly replies = new Map<number, (m: DbusMessage) => void>();

  private constructor(private readonly socket: Socket) {}

  static async connect(socketPath: string): Promise<BarePeer> {
    const socket = createConnection({ path: socketPath });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("connect", () => socket.write(authRequest(process.getuid!())));
      let line = "";
      const onData = (d: Buffer) => {
        line += d.toString("latin1");
        if (!line.includes("\r\n")) return;
        socket.off("data", onData);
        if (!line.startsWith("OK ")) return reject(new Error(`auth: ${line}`));
        socket.write("BEGIN\r\n");
        resolve();
      };
      socket.on("data", onData);
    });
    const peer = new BarePeer(socket);
    socket.on("data", (d: Buffer) => peer.receive(d));
    const hello = await peer.call({ destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "Hello" });
    peer.uniqueName = String(hello.body[0]);
    return peer;
  }

  private receive(d: Buffer): void {
    this.inbox = Buffer.concat([this.inbox, d]);
    for (;;) {
      const total = messageLength(this.inbox);
      if (total === undefined || this.inbox.length < total) return;
      const m = decodeMessage(this.inbox.subarray(0, total));
      this.inbox = this.inbox.subarray(total);
      const waiting = m.replySerial !== undefined ? this.replies.get(m.replySerial) : undefined;
      if (waiting && m.type !== MessageType.MethodCall && m.type !== MessageType.Signal) {
        this.replies.delete(m.replySerial!);
        waiting(m);
      } else {
        this.onMessage(m);
      }
    }
  }

  send(m: Omit<OutgoingMessage, "serial">): number {
    this.serial++;
    this.socket.write(encodeMessage({ ...m, serial: this.serial } as OutgoingMessage));
    return this.serial;
  }

  call(m: Omit<OutgoingMessage, "serial" | "type">): Promise<DbusMessage> {
    return new Promise((resolve) => this.replies.set(this.send({ ...m, type: MessageType.MethodCall }), resolve));
  }

  reply(to: DbusMessage, signature = "", body: unknown[] = []): void {
    this.send({ type: MessageType.MethodReturn, replySerial: to.serial, destination: to.sender, signature, body });
  }

  error(to: DbusMessage, errorName: string, text: string): void {
    this.send({ type: MessageType.Error, replySerial: to.serial, destination: to.sender, errorName, signature: "s", body: [text] });
  }

  signal(path: string, iface: string, member: string, signature: string, body: unknown[]): void {
    this.send({ type: MessageType.Signal, path, interface: iface, member, signature, body });
  }

  close(): void {
    this.socket.destroy();
  }
}
