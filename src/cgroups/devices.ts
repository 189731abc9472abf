import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../errors.js";
import { attachDeviceProgram, deviceProgram, encodeInsns } from "./devices-bpf.js";
import type { DeviceRule } from "./devices-rules.js";
import { type DevicesStateV1, deviceTransitionV1, parseDevicesList, sameDevicesState, writeDevicesV1 } from "./devices-v1.js";
import { type Freezer, isFrozen, setFrozen } from "./freezer.js";

export interface ApplyDevicesOptions {
  warn: (msg: string) => void;
  /** tsrun-init, which attaches eBPF device programs (its bpf-devices mode). */
  initPath: string;
  /** tsrun runs in a user namespace other than the initial one (nested in a container). */
  nestedUserNs?: boolean;
  /** The container's processes are in the cgroup (update): a disruptive v1 change is made frozen. */
  live?: boolean;
}

/*
 * Guarding the container's devices with `rules` (containerDeviceRules) in its cgroup: in create, before
 * the init is started (on v1 the rules are written into the devices cgroup that the init joins right
 * after clone; on v2 the program is attached to the cgroup the init is cloned into); in update, again
 * (as runc re-applies them on every update), without ever allowing more than the old or the new rules:
 * v1 writes only the difference (deviceTransitionV1), v2 attaches the new program before detaching the
 * old one (tsrun-init bpf-devices). Both go away with the cgroup. Which one a host gets is its
 * CgroupDriver's choice.
 */

/** cgroup v2: attach the eBPF program for `rules` to the container's directory `dir`. */
export function applyDevicesBpf(rules: readonly DeviceRule[], dir: string, opts: ApplyDevicesOptions): void {
  attachDeviceProgram(opts.initPath, dir, encodeInsns(deviceProgram(rules)));
}

/**
 * The v1 devices controller: write the difference to the container's directory `dir` in the devices
 * hierarchy; `freezer` (the container's, if any) holds a live container still for a disruptive change.
 */
export function applyDevicesV1(rules: readonly DeviceRule[], dir: string, freezer: Freezer | null, opts: ApplyDevicesOptions): void {
  // The v1 devices controller takes rules only from CAP_SYS_ADMIN in the initial user namespace
  // (runc skips it in a user namespace too); the enclosing container's device rules still hold.
  if (opts.nestedUserNs) {
    if (!opts.live) opts.warn("device cgroup rules not applied: tsrun runs inside a user namespace; the enclosing container's device rules still apply");
    return;
  }
  const t = deviceTransitionV1(rules, readDevicesList(dir));
  for (const w of t.warnings) opts.warn(w);
  if (t.writes.length) {
    const hold = opts.live && t.disruptive ? freezer : null;
    const freeze = hold !== null && !isFrozen(hold);
    if (freeze) setFrozen(hold, true);
    try {
      writeDevicesV1(dir, t.writes);
    } finally {
      if (freeze) setFrozen(hold, false);
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
