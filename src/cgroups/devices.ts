import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../errors.js";
import type { CgroupHierarchy } from "./hierarchy.js";
import { attachDeviceProgram, deviceProgram, encodeInsns } from "./devices-bpf.js";
import type { DeviceRule } from "./devices-rules.js";
import { type DevicesStateV1, deviceTransitionV1, parseDevicesList, sameDevicesState, writeDevicesV1 } from "./devices-v1.js";
import { freezerFor, isFrozen, setFrozen } from "./freezer.js";

/** Which mechanism guards devices on this host: the v1 devices controller, or an eBPF program on v2. */
export function devicesDriver(hierarchies: readonly CgroupHierarchy[]): { kind: "v1" | "v2"; mountPoint: string } | undefined {
  // Hybrid hosts with a v1 devices controller use it, as runc does; v2 has no devices controller at
  // all, its eBPF hook works on any v2 cgroup.
  const v1 = hierarchies.find((h) => h.version === 1 && h.controllers.split(",").includes("devices"));
  if (v1) return { kind: "v1", mountPoint: v1.mountPoint };
  const v2 = hierarchies.find((h) => h.version === 2);
  return v2 ? { kind: "v2", mountPoint: v2.mountPoint } : undefined;
}

export interface ApplyDevicesOptions {
  warn: (msg: string) => void;
  /** tsrun runs in a user namespace other than the initial one (nested in a container). */
  nestedUserNs?: boolean;
  /** The container's processes are in the cgroup (update): a disruptive v1 change is made frozen. */
  live?: boolean;
}

/**
 * Guard the container's devices with `rules` (containerDeviceRules) in its cgroup: in create, before
 * the init is started (on v1 the rules are written into the devices cgroup that the init joins right
 * after clone; on v2 the program is attached to the cgroup the init is cloned into); in update, again
 * (as runc re-applies them on every update), without ever allowing more than the old or the new rules:
 * v1 writes only the difference (deviceTransitionV1), v2 attaches the new program before detaching the
 * old one (tsrun-init bpf-devices). Both go away with the cgroup.
 */
export function applyDevices(rules: readonly DeviceRule[], cgroupPath: string, hierarchies: readonly CgroupHierarchy[], initPath: string, opts: ApplyDevicesOptions): void {
  const driver = devicesDriver(hierarchies);
  if (!driver) return; // no cgroup hierarchy to guard devices with (nothing else is limited either)
  const dir = join(driver.mountPoint, cgroupPath);
  if (driver.kind === "v2") {
    attachDeviceProgram(initPath, dir, encodeInsns(deviceProgram(rules)));
    return;
  }
  // The v1 devices controller takes rules only from CAP_SYS_ADMIN in the initial user namespace
  // (runc skips it in a user namespace too); the enclosing container's device rules still hold.
  if (opts.nestedUserNs) {
    if (!opts.live) opts.warn("device cgroup rules not applied: tsrun runs inside a user namespace; the enclosing container's device rules still apply");
    return;
  }
  const t = deviceTransitionV1(rules, readDevicesList(dir));
  for (const w of t.warnings) opts.warn(w);
  if (t.writes.length) {
    const freezer = opts.live && t.disruptive ? freezerFor(cgroupPath, hierarchies) : null;
    const freeze = freezer !== null && !isFrozen(freezer);
    if (freeze) setFrozen(freezer, true);
    try {
      writeDevicesV1(dir, t.writes);
    } finally {
      if (freeze) setFrozen(freezer, false);
    }
  }
  // As runc: the kernel's list must now be the target (in allow-all mode only the mode can be seen).
  const after = readDevicesList(dir);
  if (after.defaultAllow !== t.target.defaultAllow || (!t.target.defaultAllow && !sameDevicesState(after, t.target))) {
    throw new HostError(`the device cgroup ${dir} does not hold the rules written to it (another writer?)`);
  }
}

function readDevicesList(dir: string): DevicesStateV1 {
  try {
    return parseDevicesList(readFileSync(join(dir, "devices.list"), "utf8"));
  } catch (e) {
    throw new HostError(`cannot read ${join(dir, "devices.list")}: ${(e as Error).message}`);
  }
}
