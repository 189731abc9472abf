import { join } from "node:path";
import type { Spec } from "../spec/types.js";
import type { CgroupHierarchy } from "./hierarchy.js";
import { attachDeviceProgram, deviceProgram, encodeInsns } from "./devices-bpf.js";
import { containerDeviceRules } from "./devices-rules.js";
import { deviceWritesV1, writeDevicesV1 } from "./devices-v1.js";

/** Which mechanism guards devices on this host: the v1 devices controller, or an eBPF program on v2. */
export function devicesDriver(hierarchies: readonly CgroupHierarchy[]): { kind: "v1" | "v2"; mountPoint: string } | undefined {
  // Hybrid hosts with a v1 devices controller use it, as runc does; v2 has no devices controller at
  // all, its eBPF hook works on any v2 cgroup.
  const v1 = hierarchies.find((h) => h.version === 1 && h.controllers.split(",").includes("devices"));
  if (v1) return { kind: "v1", mountPoint: v1.mountPoint };
  const v2 = hierarchies.find((h) => h.version === 2);
  return v2 ? { kind: "v2", mountPoint: v2.mountPoint } : undefined;
}

/**
 * Guard the container's devices (linux.resources.devices plus runc's defaults, see devices-rules.ts)
 * in its freshly created cgroup, before the init is started: on v1 the rules are written into the
 * devices cgroup that the init joins right after clone; on v2 the program is attached to the cgroup
 * the init is cloned into. Both go away with the cgroup, so create's "remove cgroup" undo covers them.
 * As with runc, the defaults apply even when the config has no device rules.
 */
export function applyDevices(
  spec: Spec,
  cgroupPath: string,
  hierarchies: readonly CgroupHierarchy[],
  initPath: string,
  warn: (msg: string) => void,
  nestedUserNs = false,
): void {
  const rules = containerDeviceRules(spec.linux?.resources?.devices, spec.linux?.devices);
  const driver = devicesDriver(hierarchies);
  if (!driver) return; // no cgroup hierarchy to guard devices with (nothing else is limited either)
  const dir = join(driver.mountPoint, cgroupPath);
  if (driver.kind === "v1") {
    // The v1 devices controller takes rules only from CAP_SYS_ADMIN in the initial user namespace
    // (runc skips it in a user namespace too); the enclosing container's device rules still hold.
    if (nestedUserNs) {
      warn("device cgroup rules not applied: tsrun runs inside a user namespace; the enclosing container's device rules still apply");
      return;
    }
    const { writes, warnings } = deviceWritesV1(rules);
    for (const w of warnings) warn(w);
    writeDevicesV1(dir, writes);
  } else {
    attachDeviceProgram(initPath, dir, encodeInsns(deviceProgram(rules)));
  }
}
