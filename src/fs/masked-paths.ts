import { Op, type PlanRecord } from "../launch/ops.js";
import { MS } from "./mount-flags.js";

/** mkdirKind 3 of MOUNT: the target must exist (else the record is skipped), and a bind's source is the target itself. */
const EXISTING_TARGET = 3;

/**
 * linux.maskedPaths and linux.readonlyPaths, as records that run after the switch into the root. The
 * paths are the container's and are resolved inside it by tsrun-init at that moment, because only then
 * is it known what they are (a bind mount or a layer may provide them; a symlink in the image must not
 * lead out). A masked directory gets an empty read-only tmpfs and anything else the null device (as
 * runc); a read-only path is bound onto itself and remounted read-only (nosuid, nodev, noexec). Missing
 * paths are skipped, as the spec allows. Pure.
 */
export function planMaskedAndReadonly(masked: readonly string[] = [], readonly: readonly string[] = []): PlanRecord[] {
  const recs: PlanRecord[] = [];
  for (const p of readonly) {
    recs.push({ op: Op.MOUNT, ints: [MS.BIND | MS.REC, EXISTING_TARGET], strs: [p, p, "", "", "/"] });
    recs.push({ op: Op.MOUNT, ints: [MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, EXISTING_TARGET], strs: ["", p, "", "", "/"] });
  }
  for (const p of masked) {
    recs.push({ op: Op.MASK, ints: [MS.RDONLY, 0], strs: [p, "/", "tmpfs", "tmpfs", "", "/dev/null"] });
  }
  return recs;
}
