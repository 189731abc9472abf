// The part of systemd's manager API (org.freedesktop.systemd1.Manager over D-Bus) the systemd cgroup
// driver needs: transient units started and stopped with their jobs waited for, unit properties set
// and read. Every call has a deadline; errors name the unit and systemd's error or job result.
import { DbusError, DbusWireError, SystemdError } from "../../errors.js";
import { escapeAddressValue } from "./dbus-address.js";
import { DbusConnection, type MethodCall } from "./dbus-connection.js";
import { WireWriter, writeValues } from "./dbus-marshal.js";
import { type DbusMessage, MessageFlag } from "./dbus-wire.js";
import { JOB_REMOVED_RULE, MANAGER_IFACE, SYSTEMD_NAME, SYSTEMD_PATH, watchJobs } from "./job-watch.js";

/** A unit property as StartTransientUnit and SetUnitProperties take it: `type` is its D-Bus signature. */
export interface SystemdProperty {
  name: string;
  type: string;
  value: unknown;
}

export interface ConnectSystemdOptions {
  /** The user's own systemd (session bus) instead of the system's. */
  user: boolean;
  /** Connecting, authenticating and the first calls (default 10 s). */
  timeoutMs?: number;
}

const PROPERTIES_IFACE = "org.freedesktop.DBus.Properties";
const NO_SUCH_UNIT = "org.freedesktop.systemd1.NoSuchUnit";
const UNIT_EXISTS = "org.freedesktop.systemd1.UnitExists";
const UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject";
const DEFAULT_TIMEOUT_MS = 30_000;
/** A call that is not a job (resetFailedUnit, properties). */
const CALL_TIMEOUT_MS = 10_000;

/** Which bus to reach systemd on, as runc chooses: the system bus, or the user's session bus. */
export function systemdBusAddress(user: boolean, env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): { address: string; label: string } {
  if (!user) return { address: env.DBUS_SYSTEM_BUS_ADDRESS || "unix:path=/run/dbus/system_bus_socket", label: "system bus" };
  if (env.DBUS_SESSION_BUS_ADDRESS) return { address: env.DBUS_SESSION_BUS_ADDRESS, label: "user bus" };
  const dir = env.XDG_RUNTIME_DIR || `/run/user/${uid}`;
  return { address: `unix:path=${escapeAddressValue(dir)}/bus`, label: "user bus" };
}

/** systemd's major version from its Version property ("252.22-1~deb12u1" -> 252; 0 if unreadable). */
export function systemdMajor(version: string): number {
  const m = /^v?(\d+)/.exec(version);
  return m ? Number(m[1]) : 0;
}

/** Connect to systemd (system or user instance); fails with a DbusError naming the bus when it is not there. */
export async function connectSystemd(options: ConnectSystemdOptions): Promise<SystemdManager> {
  const { address, label } = systemdBusAddress(options.user);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const conn = await DbusConnection.connect(address, { label, timeoutMs });
  try {
    const manager = new SystemdManager(conn);
    let version: unknown;
    try {
      version = await manager.managerProperty("Version", remaining(deadline));
    } catch (e) {
      if (!(e instanceof DbusError)) throw e;
      throw new DbusError(e.name, `systemd is not reachable on the ${label} (${address}): ${e.message}`);
    }
    manager.version = systemdMajor(String(version));
    // JobRemoved: matched before any job starts, and sent to us only once we subscribe.
    await conn.addMatch(JOB_REMOVED_RULE, remaining(deadline));
    await conn.call(managerCall("Subscribe"), remaining(deadline));
    return manager;
  } catch (e) {
    conn.close();
    throw e;
  }
}

export class SystemdManager {
  /** systemd's major version (e.g. 252), for properties newer systemd versions added. */
  version = 0;

  constructor(private readonly conn: DbusConnection) {}

  /**
   * Start transient unit `name` with `props` (mode "replace") and wait until its start job is done.
   * A unit by that name left over (UnitExists) is reset-failed and the start tried once more, as runc
   * does. SystemdError names the unit and systemd's error or the job's result.
   */
  async startTransientUnit(name: string, props: readonly SystemdProperty[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    checkProperties(name, props);
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      const watch = watchJobs(this.conn);
      try {
        const reply = await this.manager(name, "StartTransientUnit", "ssa(sv)a(sa(sv))", [name, "replace", props.map((p) => [p.name, p]), []], deadline);
        const job = String(reply.body[0]);
        const result = await watch.result(job, remaining(deadline));
        if (result === "done") return;
        await this.resetFailedQuietly(name);
        if (result === undefined) throw new SystemdError(name, `start job ${job} did not finish within ${timeoutMs} ms`);
        throw new SystemdError(name, `start job finished with result "${result}" (see: journalctl -u ${name})`, undefined, result);
      } catch (e) {
        if (attempt > 1 || !(e instanceof SystemdError) || e.dbusName !== UNIT_EXISTS) throw e;
        await this.resetFailedQuietly(name);
      } finally {
        watch.end();
      }
    }
  }

  /**
   * Stop unit `name` (mode "replace"), wait for the stop job, reset it if it failed, and wait until
   * systemd has unloaded it. A unit that does not exist is already stopped.
   */
  async stopUnit(name: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const watch = watchJobs(this.conn);
    let result: string | undefined;
    try {
      const reply = await this.manager(name, "StopUnit", "ss", [name, "replace"], deadline);
      result = await watch.result(String(reply.body[0]), remaining(deadline));
    } catch (e) {
      if (e instanceof SystemdError && e.dbusName === NO_SUCH_UNIT) return;
      throw e;
    } finally {
      watch.end();
    }
    await this.resetFailedQuietly(name);
    for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
      const state = await this.unitProperty(name, "org.freedesktop.systemd1.Unit", "ActiveState", remaining(deadline));
      if (state === null) return;
      if (Date.now() + wait > deadline) {
        throw new SystemdError(name, `still loaded (${state}) ${timeoutMs} ms after StopUnit (stop job: ${result ?? "no result"})`, undefined, result);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Clear the unit's failed state (so that it can be unloaded and its name used again). A unit that does not exist is fine. */
  async resetFailedUnit(name: string, timeoutMs = CALL_TIMEOUT_MS): Promise<void> {
    try {
      await this.manager(name, "ResetFailedUnit", "s", [name], Date.now() + timeoutMs);
    } catch (e) {
      if (!(e instanceof SystemdError && e.dbusName === NO_SUCH_UNIT)) throw e;
    }
  }

  /** Set properties of a running unit; `runtime`: until reboot only (not written to /etc). */
  async setUnitProperties(name: string, runtime: boolean, props: readonly SystemdProperty[], timeoutMs = CALL_TIMEOUT_MS): Promise<void> {
    checkProperties(name, props);
    await this.manager(name, "SetUnitProperties", "sba(sv)", [name, runtime, props.map((p) => [p.name, p])], Date.now() + timeoutMs);
  }

  /** Property `prop` of interface `iface` (e.g. org.freedesktop.systemd1.Scope) of a loaded unit; null when no such unit is loaded. */
  async unitProperty(unit: string, iface: string, prop: string, timeoutMs = CALL_TIMEOUT_MS): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    let path: string;
    try {
      path = String((await this.manager(unit, "GetUnit", "s", [unit], deadline)).body[0]);
    } catch (e) {
      if (e instanceof SystemdError && e.dbusName === NO_SUCH_UNIT) return null;
      throw e;
    }
    try {
      const reply = await this.conn.call(systemdCall(path, PROPERTIES_IFACE, "Get", "ss", [iface, prop]), remaining(deadline));
      return (reply.body[0] as { value: unknown }).value;
    } catch (e) {
      if (!(e instanceof DbusError) || e instanceof DbusWireError) throw e;
      // Unloaded between the two calls.
      if (e.name === UNKNOWN_OBJECT || e.name === NO_SUCH_UNIT) return null;
      throw new SystemdError(unit, `property ${iface}.${prop}: ${e.name}: ${e.message}`, e.name);
    }
  }

  /** A property of the manager itself (e.g. "Version", "ControlGroup"). */
  async managerProperty(prop: string, timeoutMs = CALL_TIMEOUT_MS): Promise<unknown> {
    try {
      const reply = await this.conn.call(systemdCall(SYSTEMD_PATH, PROPERTIES_IFACE, "Get", "ss", [MANAGER_IFACE, prop]), timeoutMs);
      return (reply.body[0] as { value: unknown }).value;
    } catch (e) {
      if (!(e instanceof DbusError) || e instanceof DbusWireError) throw e;
      throw new DbusError(e.name, `systemd manager property ${prop}: ${e.message}`);
    }
  }

  close(): void {
    this.conn.close();
  }

  /** A Manager method about `unit`; a D-Bus error becomes a SystemdError naming the unit. */
  private async manager(unit: string, member: string, signature: string, body: unknown[], deadline: number): Promise<DbusMessage> {
    try {
      return await this.conn.call(managerCall(member, signature, body), remaining(deadline));
    } catch (e) {
      if (!(e instanceof DbusError) || e instanceof DbusWireError) throw e;
      throw new SystemdError(unit, `${member}: ${e.name}: ${e.message}`, e.name);
    }
  }

  private async resetFailedQuietly(name: string): Promise<void> {
    try {
      await this.resetFailedUnit(name);
    } catch {
      // As runc: a unit that cannot be reset is reported by what comes next, not here.
    }
  }
}

/** A call to systemd at `path`: never with auto-start (systemd is PID 1 or it is not there; the bus must not try to start it). */
function systemdCall(path: string, iface: string, member: string, signature = "", body: unknown[] = []): MethodCall {
  return { destination: SYSTEMD_NAME, path, interface: iface, member, signature, body, flags: MessageFlag.NoAutoStart };
}

function managerCall(member: string, signature = "", body: unknown[] = []): MethodCall {
  return systemdCall(SYSTEMD_PATH, MANAGER_IFACE, member, signature, body);
}

/** Each property must fit its own signature: checked one by one so that the error names it. */
function checkProperties(unit: string, props: readonly SystemdProperty[]): void {
  for (const p of props) {
    try {
      writeValues(new WireWriter(), "sv", [p.name, p]);
    } catch (e) {
      if (!(e instanceof DbusWireError)) throw e;
      throw new SystemdError(unit, `property ${p.name} (${p.type}): ${e.message}`, e.name);
    }
  }
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}
