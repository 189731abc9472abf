import { HostError } from "../../errors.js";
import type { SystemdManager } from "./manager.js";
import type { SystemdUnit } from "./unit-name.js";

/** How long systemd gets for a unit's start or stop job (runc: 30 s). */
export const JOB_TIMEOUT_MS = 30_000;

/**
 * One connection to the systemd instance that owns `unit` (the system's, or the user's own) for the
 * length of `fn`, closed after. The D-Bus code is loaded here only: calls without --systemd-cgroup
 * containers never pay for it.
 */
export async function withSystemd<T>(unit: SystemdUnit, fn: (m: SystemdManager) => Promise<T>): Promise<T> {
  const { connectSystemd } = await import("./manager.js");
  let manager: SystemdManager;
  try {
    manager = await connectSystemd({ user: unit.user === true });
  } catch (e) {
    const bus = unit.user ? "your user's systemd (the user bus)" : "systemd (the system bus)";
    throw new HostError(`--systemd-cgroup: cannot reach ${bus} for unit ${unit.unit}: ${(e as Error).message}`);
  }
  try {
    return await fn(manager);
  } finally {
    manager.close();
  }
}

/** Stop the unit and wait until systemd has removed it (with its cgroup); a unit already gone is fine. */
export function stopUnit(unit: SystemdUnit): Promise<void> {
  return withSystemd(unit, (m) => m.stopUnit(unit.unit, JOB_TIMEOUT_MS));
}
