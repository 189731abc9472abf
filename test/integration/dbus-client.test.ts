/**
 * tsrun's D-Bus client (src/cgroups/systemd/dbus-connection.ts) against a real dbus-daemon of its own
 * (a private session bus in a temporary directory), against fake servers that misbehave, and the
 * systemd manager API (manager.ts) against a stand-in systemd on that bus. Needs dbus-daemon (Debian
 * package dbus-daemon), not root. The real systemd: systemd-dbus.test.ts, in the systemd VM.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type Server, type Socket, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DbusConnection } from "../../src/cgroups/systemd/dbus-connection.js";
import { type DbusMessage, MessageType, encodeMessage } from "../../src/cgroups/systemd/dbus-wire.js";
import { connectSystemd } from "../../src/cgroups/systemd/manager.js";
import { DbusError, SystemdError } from "../../src/errors.js";
import { BarePeer, PrivateBus } from "../helpers/dbus.js";
import { FakeSystemd } from "../helpers/fake-systemd.js";
import { TOP } from "../helpers/tsrun.js";

const BUN = join(TOP, "node_modules/@oven/bun-linux-x64/bin/bun");

const bus = new PrivateBus();
const open: { close(): void }[] = [];
beforeAll(() => bus.start());
afterAll(() => {
  for (const c of open) c.close();
  bus.stop();
});

async function connect(): Promise<DbusConnection> {
  const c = await DbusConnection.connect(bus.address, { label: "test bus", timeoutMs: 10_000 });
  open.push(c);
  return c;
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<DbusError> {
  try {
    await p;
  } catch (e) {
    return e as DbusError;
  }
  throw new Error("expected a rejection");
}

describe("on a private dbus-daemon", () => {
  test("connect, authenticate, Hello: we get a unique name", async () => {
    const c = await connect();
    expect(c.uniqueName).toMatch(/^:\d+\.\d+$/);
  });

  test("org.freedesktop.DBus methods: ListNames, GetNameOwner, GetConnectionUnixUser", async () => {
    const c = await connect();
    const names = (await c.callBus("ListNames")).body[0] as string[];
    expect(names).toContain("org.freedesktop.DBus");
    expect(names).toContain(c.uniqueName);
    expect((await c.callBus("GetNameOwner", "s", ["org.freedesktop.DBus"])).body).toEqual(["org.freedesktop.DBus"]);
    expect((await c.callBus("GetNameOwner", "s", [c.uniqueName])).body).toEqual([c.uniqueName]);
    expect((await c.callBus("GetConnectionUnixUser", "s", [c.uniqueName])).body).toEqual([process.getuid!()]);
  });

  test("an error reply becomes a DbusError with the bus's error name and text", async () => {
    const c = await connect();
    const e = await rejection(c.callBus("NoSuchMethod"));
    expect(e).toBeInstanceOf(DbusError);
    expect(e.name).toBe("org.freedesktop.DBus.Error.UnknownMethod");
    expect(e.message).toMatch(/NoSuchMethod/);
    const owner = await rejection(c.callBus("GetNameOwner", "s", ["org.example.Nobody"]));
    expect(owner.name).toBe("org.freedesktop.DBus.Error.NameHasNoOwner");
    // The connection is still good afterwards.
    expect((await c.callBus("GetId")).body[0]).toMatch(/^[0-9a-f]{32}$/);
  });

  test("a signal reaches the listener after AddMatch: NameOwnerChanged as a second client comes and goes", async () => {
    const c = await connect();
    const seen: DbusMessage[] = [];
    c.onSignal((m) => seen.push(m));
    await c.addMatch("type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged'");
    const second = await connect();
    second.close();
    const changes = () => seen.filter((m) => m.member === "NameOwnerChanged" && m.body[0] === second.uniqueName).map((m) => m.body);
    for (let i = 0; i < 100 && changes().length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(changes()).toEqual([
      [second.uniqueName, "", second.uniqueName],
      [second.uniqueName, second.uniqueName, ""],
    ]);
  });

  test("a peer that never answers: the call times out with NoReply, and the connection goes on", async () => {
    const c = await connect();
    const silent = await BarePeer.connect(bus.socketPath);
    open.push(silent);
    const started = Date.now();
    const e = await rejection(c.call({ destination: silent.uniqueName, path: "/x", interface: "org.example.X", member: "Wait" }, 300));
    expect(e.name).toBe("org.freedesktop.DBus.Error.NoReply");
    expect(e.message).toMatch(/no reply to org\.example\.X\.Wait from :\d+\.\d+ within 300 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect((await c.callBus("GetId")).body[0]).toMatch(/^[0-9a-f]{32}$/);
  });

  test("a call to our connection gets UnknownMethod back at once (nobody waits out a timeout)", async () => {
    const c = await connect();
    const other = await connect();
    const e = await rejection(other.call({ destination: c.uniqueName, path: "/", interface: "org.example.X", member: "Ping" }, 5_000));
    expect(e.name).toBe("org.freedesktop.DBus.Error.UnknownMethod");
  });

  test("a large reply arrives whole (many socket reads make one message)", async () => {
    const c = await connect();
    const server = await BarePeer.connect(bus.socketPath);
    open.push(server);
    const big = Uint8Array.from({ length: 4 << 20 }, (_, i) => i % 251);
    server.onMessage = (m) => m.type === MessageType.MethodCall && server.reply(m, "aysa{sv}", [big, "end", [["n", { type: "t", value: 2n ** 60n }]]]);
    const reply = await c.call({ destination: server.uniqueName, path: "/big", member: "Get" }, 30_000);
    const got = reply.body[0] as Uint8Array;
    expect(got).toBeInstanceOf(Uint8Array);
    expect(got.length).toBe(big.length);
    expect(Buffer.compare(got, big)).toBe(0); // (jest's toEqual walks 4 Mi elements one by one: a minute)
    expect(reply.body.slice(1)).toEqual(["end", [["n", { type: "t", value: 2n ** 60n }]]]);
  });

  test("close: a pending call is rejected with Disconnected, later calls too, close listeners hear it", async () => {
    const c = await connect();
    const silent = await BarePeer.connect(bus.socketPath);
    open.push(silent);
    const heard: string[] = [];
    c.onClose((e) => heard.push(e.name));
    const pending = c.call({ destination: silent.uniqueName, path: "/x", member: "Wait" }, 10_000);
    c.close();
    expect((await rejection(pending)).name).toBe("org.freedesktop.DBus.Error.Disconnected");
    expect((await rejection(c.callBus("GetId"))).name).toBe("org.freedesktop.DBus.Error.Disconnected");
    expect(c.closed).toBe(true);
    expect(heard).toEqual(["org.freedesktop.DBus.Error.Disconnected"]);
  });

  test("in Bun (the tsrun binary's runtime): unix:path= and unix:abstract= buses, calls, an error reply", async () => {
    // Node 20's net cannot reach abstract sockets, so this half runs in Bun, on the same sources.
    const abstract = new PrivateBus(true);
    try {
      await abstract.start();
      expect(abstract.address).toMatch(/^unix:abstract=/);
      const script = [
        `import { DbusConnection } from ${JSON.stringify(join(TOP, "src/cgroups/systemd/dbus-connection.ts"))};`,
        `for (const address of ${JSON.stringify([bus.address, abstract.address])}) {`,
        `  const c = await DbusConnection.connect(address);`,
        `  const owner = (await c.callBus("GetNameOwner", "s", [c.uniqueName])).body[0];`,
        `  const error = await c.callBus("Nope").catch((e) => e.name);`,
        `  console.log(JSON.stringify([owner === c.uniqueName, error]));`,
        `  c.close();`,
        `}`,
      ].join("\n");
      const r = spawnSync(BUN, ["--eval", script], { encoding: "utf8", timeout: 30_000 });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
        [true, "org.freedesktop.DBus.Error.UnknownMethod"],
        [true, "org.freedesktop.DBus.Error.UnknownMethod"],
      ]);
      // Here in Node the same address fails with a reason that says why.
      const e = await rejection(DbusConnection.connect(abstract.address));
      expect(e.message).toMatch(/this Node cannot reach abstract sockets/);
    } finally {
      abstract.stop();
    }
  });

  test("the daemon going away rejects what is pending", async () => {
    const other = new PrivateBus();
    try {
      await other.start();
      const c = await DbusConnection.connect(other.address, { label: "doomed bus" });
      const silent = await BarePeer.connect(other.socketPath);
      const pending = c.call({ destination: silent.uniqueName, path: "/x", member: "Wait" }, 10_000);
      other.stop();
      const e = await rejection(pending);
      expect(e.name).toBe("org.freedesktop.DBus.Error.Disconnected");
      expect(e.message).toMatch(/doomed bus/);
      silent.close();
    } finally {
      other.stop();
    }
  });
});

describe("fake servers that misbehave", () => {
  let dir: string;
  let server: Server | undefined;
  let clients: Socket[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tsrun-dbus-fake-"));
  });
  afterEach(async () => {
    for (const s of clients) s.destroy();
    clients = [];
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A server on <dir>/bus whose `onLine` sees each authentication line and `onMessages` the bytes after BEGIN. */
  async function fakeServer(answer: (socket: Socket, text: string) => void): Promise<string> {
    const path = join(dir, "bus");
    server = createServer((socket) => {
      clients.push(socket);
      let text = "";
      socket.on("data", (d) => {
        text += d.toString("latin1");
        answer(socket, text);
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => server!.listen(path, r));
    return `unix:path=${path}`;
  }

  /** Answers AUTH with OK, and once BEGIN and the Hello are there, calls `afterHello`. */
  function okThen(afterHello: (socket: Socket) => void) {
    let state = 0;
    return (socket: Socket, text: string) => {
      if (state === 0 && text.includes("AUTH EXTERNAL")) {
        state = 1;
        socket.write("OK 0123456789abcdef0123456789abcdef\r\n");
      }
      if (state === 1 && text.includes("BEGIN\r\n") && text.includes("Hello")) {
        state = 2;
        afterHello(socket);
      }
    };
  }

  test("no socket at the address: FileNotFound, naming the path", async () => {
    const e = await rejection(DbusConnection.connect(`unix:path=${dir}/none`, { label: "system bus" }));
    expect(e.name).toBe("org.freedesktop.DBus.Error.FileNotFound");
    expect(e.message).toBe(`cannot connect to the system bus at ${dir}/none: no such socket`);
  });

  test("EXTERNAL rejected: AuthFailed, with what the server offers", async () => {
    const address = await fakeServer((s, text) => text.includes("AUTH") && s.write("REJECTED DBUS_COOKIE_SHA1\r\n"));
    const e = await rejection(DbusConnection.connect(address));
    expect(e.name).toBe("org.freedesktop.DBus.Error.AuthFailed");
    expect(e.message).toMatch(/authentication as uid \d+ failed: EXTERNAL rejected \(the bus offers: DBUS_COOKIE_SHA1\)/);
  });

  test("a server that never answers authentication: Timeout", async () => {
    const address = await fakeServer(() => {});
    const e = await rejection(DbusConnection.connect(address, { timeoutMs: 300 }));
    expect(e.name).toBe("org.freedesktop.DBus.Error.Timeout");
  });

  test("a server that never answers Hello: NoReply within the connect timeout", async () => {
    const address = await fakeServer(okThen(() => {}));
    const e = await rejection(DbusConnection.connect(address, { timeoutMs: 300 }));
    expect(e.name).toBe("org.freedesktop.DBus.Error.NoReply");
  });

  test("an endless authentication line: refused, not buffered forever", async () => {
    const address = await fakeServer((s) => s.write("x".repeat(8192)));
    const e = await rejection(DbusConnection.connect(address, { timeoutMs: 5_000 }));
    expect(e.name).toBe("org.freedesktop.DBus.Error.AuthFailed");
    expect(e.message).toMatch(/longer than 4096/);
  });

  test("a reply that claims 1 GiB: the connection is dropped at once, naming the malformed message", async () => {
    const address = await fakeServer(
      okThen((s) => {
        const head = Buffer.alloc(16);
        head.write("l\x02\x00\x01", "latin1");
        head.writeUInt32LE(1 << 30, 4);
        head.writeUInt32LE(1, 8);
        s.write(head);
      }),
    );
    const e = await rejection(DbusConnection.connect(address, { timeoutMs: 5_000 }));
    expect(e.name).toBe("org.freedesktop.DBus.Error.Disconnected");
    expect(e.message).toMatch(/malformed message: .*over the 134217728 limit/);
  });

  test("a reply cut short and then the socket closed: Disconnected, no hang", async () => {
    const address = await fakeServer(
      okThen((s) => {
        const reply = encodeMessage({ type: MessageType.MethodReturn, serial: 1, replySerial: 1, signature: "s", body: [":1.1"] });
        s.end(reply.subarray(0, reply.length - 3));
      }),
    );
    const e = await rejection(DbusConnection.connect(address, { timeoutMs: 5_000 }));
    expect(e.name).toBe("org.freedesktop.DBus.Error.Disconnected");
  });

  test("a Hello reply sent one byte at a time is put together", async () => {
    const address = await fakeServer(
      okThen(async (s) => {
        const reply = encodeMessage({ type: MessageType.MethodReturn, serial: 1, replySerial: 1, signature: "s", body: [":1.77"] });
        for (const b of reply) {
          s.write(Uint8Array.of(b));
          await new Promise((r) => setImmediate(r));
        }
      }),
    );
    const c = await DbusConnection.connect(address, { timeoutMs: 5_000 });
    expect(c.uniqueName).toBe(":1.77");
    c.close();
  });
});

describe("the systemd manager API against a stand-in systemd on the private bus", () => {
  let fake: FakeSystemd;
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  beforeAll(async () => {
    fake = await FakeSystemd.start(bus.socketPath);
    open.push(fake);
    process.env.DBUS_SYSTEM_BUS_ADDRESS = bus.address;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  });

  async function manager() {
    const m = await connectSystemd({ user: false });
    open.push(m);
    return m;
  }

  test("connectSystemd reads the version and subscribes", async () => {
    const before = fake.calls.length;
    const m = await manager();
    expect(m.version).toBe(999);
    expect(fake.calls.slice(before)).toEqual(["Subscribe"]);
    expect(await m.managerProperty("Version")).toBe("999.1-fake");
  });

  test.each([true, false])("start waits for its own job's JobRemoved (signal before the reply: %s)", async (signalFirst) => {
    const m = await manager();
    fake.signalFirst = signalFirst;
    const unit = `start-${signalFirst}.scope`;
    await m.startTransientUnit(unit, [
      { name: "PIDs", type: "au", value: [process.pid] },
      { name: "MemoryMax", type: "t", value: 64n << 20n },
      { name: "AllowedCPUs", type: "ay", value: Uint8Array.of(1) },
      { name: "DeviceAllow", type: "a(ss)", value: [["/dev/null", "rwm"]] },
    ], 5_000);
    fake.signalFirst = true;
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "MemoryMax")).toBe(64 * 1024 * 1024);
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "AllowedCPUs")).toEqual(Uint8Array.of(1));
    expect(await m.unitProperty(unit, "org.freedesktop.systemd1.Scope", "DeviceAllow")).toEqual([["/dev/null", "rwm"]]);
    await m.stopUnit(unit, 5_000);
    expect(fake.units.has(unit)).toBe(false);
  });

  test("a failed start job: SystemdError naming the unit and the result, and the unit reset", async () => {
    const m = await manager();
    fake.startResult = (u) => (u === "bad.scope" ? "failed" : "done");
    try {
      const e = (await rejection(m.startTransientUnit("bad.scope", [], 5_000))) as unknown as SystemdError;
      expect(e).toBeInstanceOf(SystemdError);
      expect(e.message).toBe('systemd unit bad.scope: start job finished with result "failed" (see: journalctl -u bad.scope)');
      expect(e.jobResult).toBe("failed");
      expect(fake.units.has("bad.scope")).toBe(false);
    } finally {
      fake.startResult = () => "done";
    }
  });

  test("UnitExists: ResetFailedUnit and one more try, as runc; a live unit stays an error", async () => {
    const m = await manager();
    fake.units.set("left.scope", { state: "failed", props: new Map() });
    const before = fake.calls.length;
    await m.startTransientUnit("left.scope", [], 5_000);
    expect(fake.calls.slice(before)).toEqual(["StartTransientUnit left.scope", "ResetFailedUnit left.scope", "StartTransientUnit left.scope"]);
    const e = (await rejection(m.startTransientUnit("left.scope", [], 5_000))) as unknown as SystemdError;
    expect(e.message).toBe("systemd unit left.scope: StartTransientUnit: org.freedesktop.systemd1.UnitExists: Unit left.scope was already loaded or has a fragment file.");
    expect(e.dbusName).toBe("org.freedesktop.systemd1.UnitExists");
    await m.stopUnit("left.scope");
  });

  test("a start job that never finishes: SystemdError after the timeout, nothing hangs", async () => {
    const m = await manager();
    fake.startResult = () => "never";
    try {
      const e = await rejection(m.startTransientUnit("slow.scope", [], 300));
      expect(e.message).toMatch(/^systemd unit slow\.scope: start job \/org\/freedesktop\/systemd1\/job\/\d+ did not finish within 300 ms$/);
    } finally {
      fake.startResult = () => "done";
      fake.units.delete("slow.scope");
    }
  });

  test("a property value that does not fit its type is refused before any call, naming the property", async () => {
    const m = await manager();
    const before = fake.calls.length;
    const e = await rejection(m.startTransientUnit("typo.scope", [{ name: "MemoryMax", type: "t", value: "64M" }]));
    expect(e.message).toMatch(/^systemd unit typo\.scope: property MemoryMax \(t\): .*"64M" does not fit D-Bus type "t"/);
    expect(fake.calls.length).toBe(before);
  });

  test("setUnitProperties, and systemd's refusal naming the unit and the property", async () => {
    const m = await manager();
    await m.startTransientUnit("set.scope", [{ name: "CPUWeight", type: "t", value: 100 }]);
    await m.setUnitProperties("set.scope", true, [{ name: "CPUWeight", type: "t", value: 50 }]);
    expect(await m.unitProperty("set.scope", "org.freedesktop.systemd1.Scope", "CPUWeight")).toBe(50);
    const e = await rejection(m.setUnitProperties("set.scope", true, [{ name: "Bogus", type: "s", value: "x" }]));
    expect(e.message).toBe("systemd unit set.scope: SetUnitProperties: org.freedesktop.DBus.Error.PropertyReadOnly: Cannot set property Bogus, or unknown property.");
    await m.stopUnit("set.scope");
  });

  test("a unit that does not exist: stopUnit and resetFailedUnit are fine, unitProperty is null", async () => {
    const m = await manager();
    await m.stopUnit("gone.scope");
    await m.resetFailedUnit("gone.scope");
    expect(await m.unitProperty("gone.scope", "org.freedesktop.systemd1.Unit", "ActiveState")).toBeNull();
  });
});

describe("connectSystemd where systemd is not", () => {
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  afterEach(() => {
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  });

  test("no socket: the error names the bus and the socket", async () => {
    process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${bus.dir}/no-such-socket`;
    const e = await rejection(connectSystemd({ user: false }));
    expect(e.message).toBe(`cannot connect to the system bus at ${bus.dir}/no-such-socket: no such socket`);
  });

  test("a bus without systemd on it: the error says so, with the bus's own error", async () => {
    const empty = new PrivateBus();
    try {
      await empty.start();
      process.env.DBUS_SYSTEM_BUS_ADDRESS = empty.address;
      const e = await rejection(connectSystemd({ user: false }));
      // NameHasNoOwner: we ask for no auto-start, so the bus does not try to launch systemd either.
      expect(e.name).toBe("org.freedesktop.DBus.Error.NameHasNoOwner");
      expect(e.message).toMatch(/^systemd is not reachable on the system bus \(unix:path=.*\): systemd manager property Version: .*org\.freedesktop\.systemd1/);
    } finally {
      empty.stop();
    }
  });
});
