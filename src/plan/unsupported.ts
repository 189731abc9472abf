import { planIntelRdt } from "../cgroups/intel-rdt.js";
import { release } from "node:os";
import { ConfigError } from "../errors.js";
import { idmapField, kernelCanIdmap, wantsIdmap } from "../fs/idmapped-mounts.js";
import type { LinuxIntelRdt } from "../spec/types.js";

/**
 * Config fields this version of tsrun (or this kernel) cannot honour. Each is refused with its path rather
 * than ignored, because ignoring it would run a container weaker than the config asks (spec-notes.md lists
 * them). Idmapped mounts where the kernel has no mount_setattr (features says idmap enabled: false there);
 * linux.intelRdt apart (refuseIntelRdt). `kernel`: os.release() form.
 */
export function refuseUnsupported(spec: Record<string, any>, kernel = release()): void {
  if (kernelCanIdmap(kernel)) return;
  const mounts: Array<Record<string, any>> = Array.isArray(spec.mounts) ? spec.mounts : [];
  mounts.forEach((m, i) => {
    if (m && wantsIdmap(m)) throw new ConfigError(idmapField(m, `/mounts/${i}`), `idmapped mounts need Linux >= 5.12 (mount_setattr); this kernel is ${kernel}`);
  });
}

/**
 * linux.intelRdt: planned (so a config error, and a host without resctrl, are reported as such: the
 * refusal names the field), then refused: tsrun does not write resctrl yet (features says intelRdt
 * enabled: false). `resctrlRoot`: where resctrl is mounted (undefined: nowhere).
 */
export function refuseIntelRdt(rdt: LinuxIntelRdt, id: string, resctrlRoot: string | undefined): never {
  const plan = planIntelRdt(rdt, id, resctrlRoot);
  throw new ConfigError("/linux/intelRdt", `resctrl is mounted at ${resctrlRoot}, but this version of tsrun does not apply Intel RDT yet (it would use ${plan.group})`);
}
