/**
 * linux.netDevices, the kernel-touching part: read what each device has, move it into the container's
 * network namespace (create's onSync, the init waiting in its namespace), and back (a failed create's
 * undo, delete). The namespace is reached through an fd tsrun holds on it, so it outlives the init for
 * as long as the move back needs: a create that fails after the move kills the init first and still
 * finds the devices; delete kills the container's processes first, then moves them back.
 */
import { closeSync, openSync } from "node:fs";
import { NetworkError } from "../errors.js";
import { ipBatchSync, ipErrors, linkAddresses, linkNames } from "./ip.js";
import {
  type DeviceState,
  type NetDevicePlan,
  type NetDevicesPlan,
  inContainerBatch,
  keptAddresses,
  moveBackBatch,
  moveInBatch,
  restoreBatch,
} from "./netdevices.js";

/** What delete needs to move the devices back (kept in state.json, written before the move). */
export interface NetDevicesRecord {
  /** The init whose network namespace the devices went into (its start time tells it from a reused pid). */
  pid: number;
  pidStartTime: number;
  /** The namespace was joined by this path: it outlives the container's processes. */
  joinedPath?: string;
  devices: { host: string; container: string; state: DeviceState }[];
}

/** An fd of tsrun's on a network namespace: keeps it alive; `path` reaches it from a child (ip, nsenter). */
export interface NetnsHandle {
  readonly path: string;
  close(): void;
}

/** Hold the namespace of the file at `path` (/proc/<pid>/ns/net, or a joined path); undefined when it is gone. */
export function holdNetns(path: string): NetnsHandle | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  let open = true;
  return {
    path: `/proc/${process.pid}/fd/${fd}`,
    close() {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

/** Each device's kept addresses and admin state, read in tsrun's namespace just before the move. */
export function readDeviceStates(devices: readonly NetDevicePlan[]): DeviceState[] {
  const links = new Map(linkAddresses().map((l) => [l.ifname, l]));
  return devices.map((d) => {
    const l = links.get(d.host);
    // Checked at plan time: only a device removed since then gets here.
    if (!l) throw new NetworkError(`${d.field}: no network device "${d.host}" in tsrun's network namespace`);
    return { addresses: keptAddresses(l.addr_info ?? []), up: (l.flags ?? []).includes("UP") };
  });
}

export function netDevicesRecord(plan: NetDevicesPlan, states: readonly DeviceState[], pid: number, pidStartTime: number): NetDevicesRecord {
  return {
    pid,
    pidStartTime,
    ...(plan.joinedPath ? { joinedPath: plan.joinedPath } : {}),
    devices: plan.devices.map((d, i) => ({ host: d.host, container: d.container, state: states[i] })),
  };
}

/** Move and rename (one ip process in tsrun's namespace), then addresses and up inside (one more). */
export function moveDevicesIn(plan: NetDevicesPlan, states: readonly DeviceState[], netns: NetnsHandle): void {
  const out = ipBatchSync(moveInBatch(plan.devices, netns.path));
  if (!out.ok) throw new NetworkError(`linux.netDevices: moving ${plan.devices.map((d) => d.host).join(", ")} into the container: ${ipErrors(out.stderr).join("; ")}`);
  const inside = ipBatchSync(inContainerBatch(plan.devices, states), { netns: netns.path });
  if (!inside.ok) throw new NetworkError(`linux.netDevices: setting up ${plan.devices.map((d) => d.container).join(", ")} in the container: ${ipErrors(inside.stderr).join("; ")}`);
}

/**
 * Send every recorded device back to tsrun's namespace under its host name, with its recorded addresses
 * and state. Goes on past a device that fails; returns what went wrong (empty: all are back). A device
 * already on the host (a create that failed before moving it) only gets its addresses and state back.
 */
export function moveDevicesBack(rec: NetDevicesRecord, netns: NetnsHandle): string[] {
  const problems: string[] = [];
  const back = ipBatchSync(moveBackBatch(rec.devices, `/proc/${process.pid}/ns/net`), { netns: netns.path, force: true });
  problems.push(...ipErrors(back.stderr).filter((l) => !/Cannot find device/.test(l)));
  const present = new Set(linkNames());
  const home = rec.devices.filter((d) => present.has(d.host));
  for (const d of rec.devices) {
    if (!present.has(d.host)) problems.push(`network device "${d.container}" (host name "${d.host}") is not back in tsrun's network namespace`);
  }
  // Addresses the device still has (it never left) are no error.
  const restored = ipBatchSync(restoreBatch(home), { force: true });
  problems.push(...ipErrors(restored.stderr).filter((l) => !/File exists|Address already assigned/.test(l)));
  return problems;
}

/** Whether the record's netDevices field is a NetDevicesRecord (the store keeps it without looking). */
export function isNetDevicesRecord(x: unknown): x is NetDevicesRecord {
  const r = x as Partial<NetDevicesRecord> | null;
  return (
    typeof r === "object" &&
    r !== null &&
    typeof r.pid === "number" &&
    typeof r.pidStartTime === "number" &&
    (r.joinedPath === undefined || typeof r.joinedPath === "string") &&
    Array.isArray(r.devices) &&
    r.devices.every(
      (d) => typeof d?.host === "string" && typeof d.container === "string" && Array.isArray(d.state?.addresses) && d.state.addresses.every((a: unknown) => typeof a === "string") && typeof d.state.up === "boolean",
    )
  );
}

/** delete's words when the namespace ended before delete could reach it. */
export function goneMessage(rec: NetDevicesRecord): string {
  const names = rec.devices.map((d) => (d.host === d.container ? d.host : `${d.host} (${d.container} in the container)`)).join(", ");
  return (
    `linux.netDevices: ${names} not moved back: the container's network namespace ended with its last process; ` +
    "the kernel moved a physical device to the initial network namespace (under its name in the container, or devN when taken) and removed a virtual one"
  );
}
