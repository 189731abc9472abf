// A stand-in for systemd's manager on a private bus, for the manager API's tests on a host whose PID 1
// is not systemd: it owns org.freedesktop.systemd1 and answers the calls src/cgroups/systemd/manager.ts
// makes, with JobRemoved signals sent before or after the call's reply, as the test chooses. The real
// systemd is tested in the systemd VM (systemd-dbus.test.ts).
import type { Variant } from "../../src/cgroups/systemd/dbus-marshal.js";
import { type DbusMessage, MessageType } from "../../src/cgroups/systemd/dbus-wire.js";
import { BarePeer } from "./dbus.js";

const PATH = "/org/freedesktop/systemd1";
const MANAGER = "org.freedesktop.systemd1.Manager";

export interface FakeUnit {
  state: "active" | "failed";
  props: Map<string, Variant>;
}

export class FakeSystemd {
  readonly units = new Map<string, FakeUnit>();
  /** Every manager call, as "Member unit". */
  readonly calls: string[] = [];
  /** How a unit's start job ends: a result, or "never" (no JobRemoved at all). */
  startResult: (unit: string) => string = () => "done";
  /** JobRemoved before the reply that names the job (the race the client must not lose), or after. */
  signalFirst = true;
  private jobs = 0;

  private constructor(private readonly peer: BarePeer) {
    peer.onMessage = (m) => {
      if (m.type === MessageType.MethodCall) this.handle(m);
    };
  }

  static async start(socketPath: string): Promise<FakeSystemd> {
    const peer = await BarePeer.connect(socketPath);
    const fake = new FakeSystemd(peer);
    const r = await peer.call({ destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "RequestName", signature: "su", body: ["org.freedesktop.systemd1", 0] });
    if (r.body[0] !== 1) throw new Error(`RequestName org.freedesktop.systemd1: ${r.body[0]}`);
    return fake;
  }

  close(): void {
    this.peer.close();
  }

  private unitPath(name: string): string {
    return `${PATH}/unit/${name.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`;
  }

  private handle(m: DbusMessage): void {
    const p = this.peer;
    const [a0, a1, a2] = m.body as [string, unknown, unknown];
    if (m.interface === "org.freedesktop.DBus.Properties" && m.member === "Get") {
      if (m.path === PATH) {
        return a1 === "Version" ? p.reply(m, "v", [{ type: "s", value: "999.1-fake" }]) : p.error(m, "org.freedesktop.DBus.Error.UnknownProperty", `Unknown property ${a1}`);
      }
      const unit = [...this.units].find(([name]) => this.unitPath(name) === m.path)?.[1];
      if (!unit) return p.error(m, "org.freedesktop.DBus.Error.UnknownObject", `Unknown object '${m.path}'.`);
      if (a1 === "ActiveState") return p.reply(m, "v", [{ type: "s", value: unit.state }]);
      const v = unit.props.get(String(a1));
      return v ? p.reply(m, "v", [v]) : p.error(m, "org.freedesktop.DBus.Error.UnknownProperty", `Unknown property ${a1}`);
    }
    if (m.path !== PATH || m.interface !== MANAGER) return p.error(m, "org.freedesktop.DBus.Error.UnknownMethod", "not here");
    this.calls.push(`${m.member}${typeof a0 === "string" ? ` ${a0}` : ""}`);
    const unit = typeof a0 === "string" ? this.units.get(a0) : undefined;
    const noSuchUnit = () => p.error(m, "org.freedesktop.systemd1.NoSuchUnit", `Unit ${a0} not loaded.`);
    switch (m.member) {
      case "Subscribe":
        return p.reply(m);
      case "StartTransientUnit": {
        if (unit) return p.error(m, "org.freedesktop.systemd1.UnitExists", `Unit ${a0} was already loaded or has a fragment file.`);
        const result = this.startResult(a0);
        this.units.set(a0, { state: result === "done" || result === "never" ? "active" : "failed", props: new Map(a2 as [string, Variant][]) });
        return this.job(m, a0, result);
      }
      case "StopUnit":
        if (!unit) return noSuchUnit();
        this.units.delete(a0);
        return this.job(m, a0, "done");
      case "ResetFailedUnit":
        if (!unit) return noSuchUnit();
        if (unit.state === "failed") this.units.delete(a0);
        return p.reply(m);
      case "GetUnit":
        return unit ? p.reply(m, "o", [this.unitPath(a0)]) : noSuchUnit();
      case "SetUnitProperties": {
        if (!unit) return noSuchUnit();
        const props = a2 as [string, Variant][];
        const bad = props.find(([name]) => name === "Bogus");
        if (bad) return p.error(m, "org.freedesktop.DBus.Error.PropertyReadOnly", `Cannot set property ${bad[0]}, or unknown property.`);
        for (const [name, v] of props) unit.props.set(name, v);
        return p.reply(m);
      }
      default:
        return p.error(m, "org.freedesktop.DBus.Error.UnknownMethod", `Unknown method ${m.member}`);
    }
  }

  /** Reply with a new job's path and send its JobRemoved (unless the result is "never"). */
  private job(m: DbusMessage, unit: string, result: string): void {
    const id = ++this.jobs;
    const job = `${PATH}/job/${id}`;
    // Another client's job finishing first, with a result that must not be taken for ours.
    const removed = () => {
      this.peer.signal(PATH, MANAGER, "JobRemoved", "uoss", [id + 1000, `${PATH}/job/${id + 1000}`, unit, "failed"]);
      this.peer.signal(PATH, MANAGER, "JobRemoved", "uoss", [id, job, unit, result]);
    };
    if (result !== "never" && this.signalFirst) removed();
    this.peer.reply(m, "o", [job]);
    if (result !== "never" && !this.signalFirst) setTimeout(removed, 20);
  }
}
