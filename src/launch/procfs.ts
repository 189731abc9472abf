import { Op, type PlanRecord } from "./ops.js";

/**
 * A write under /proc, through the procfs handle (PROCFS_WRITE): `path` relative to the procfs root
 * ("self/attr/exec", "sys/kernel/shmmax"), never through the container's own /proc. `hint` is added to
 * the message when the kernel says EACCES or EPERM.
 */
export function procfsWrite(path: string, value: string, field: string, hint = ""): PlanRecord {
  return { op: Op.PROCFS_WRITE, strs: [path, value, field, hint] };
}

/**
 * The plan with its procfs handle: PROCFS_OPEN first (stage 0, before any namespace is joined or
 * mount made: nothing of the container's can stand in for /proc then) and PROCFS_CLOSE right after the
 * last PROCFS_WRITE (the waiting init holds no host fd). A plan without a write is returned as it is.
 */
export function withProcfsHandle(recs: readonly PlanRecord[]): PlanRecord[] {
  const last = recs.map((r) => r.op).lastIndexOf(Op.PROCFS_WRITE);
  if (last < 0) return [...recs];
  return [{ op: Op.PROCFS_OPEN }, ...recs.slice(0, last + 1), { op: Op.PROCFS_CLOSE }, ...recs.slice(last + 1)];
}
