import { planIntelRdt } from "../cgroups/intel-rdt.js";
import { ConfigError } from "../errors.js";
import type { LinuxIntelRdt } from "../spec/types.js";

/**
 * Config fields this version of tsrun cannot honour yet. Each is refused with its path rather than
 * ignored, because ignoring it would run a container weaker than the config asks (spec-notes.md lists
 * them as "not yet"). None at present besides linux.intelRdt (refuseIntelRdt).
 */
export function refuseUnsupported(_spec: Record<string, any>): void {}

/**
 * linux.intelRdt: planned (so a config error, and a host without resctrl, are reported as such: the
 * refusal names the field), then refused: tsrun does not write resctrl yet (features says intelRdt
 * enabled: false). `resctrlRoot`: where resctrl is mounted (undefined: nowhere).
 */
export function refuseIntelRdt(rdt: LinuxIntelRdt, id: string, resctrlRoot: string | undefined): never {
  const plan = planIntelRdt(rdt, id, resctrlRoot);
  throw new ConfigError("/linux/intelRdt", `resctrl is mounted at ${resctrlRoot}, but this version of tsrun does not apply Intel RDT yet (it would use ${plan.group})`);
}
