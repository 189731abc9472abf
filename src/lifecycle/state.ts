import type { Status } from "../state/status.js";
import type { ContainerRecord } from "../state/store.js";
import { type RuntimeContext, liveStatus } from "./context.js";

/** The state of a container as runtime.md defines it (what `tsrun state` prints). */
export interface OciState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  annotations: Record<string, string>;
  owner: string;
}

export function containerState(ctx: RuntimeContext, id: string): OciState {
  const rec = ctx.store.read(id);
  return ociState(rec, liveStatus(ctx.store, rec));
}

/** The state of a container with a given status (hooks get it with the status of their lifecycle point). */
export function ociState(rec: ContainerRecord, status: Status): OciState {
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    // As runc: no pid once the process is gone (it may belong to someone else by now).
    pid: status === "stopped" ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    annotations: rec.annotations,
    owner: rec.owner,
  };
}

/** Every container under the state root, with its live status. Unreadable entries are skipped. */
export function listContainers(ctx: RuntimeContext): OciState[] {
  const out: OciState[] = [];
  for (const id of ctx.store.ids()) {
    try {
      out.push(containerState(ctx, id));
    } catch {
      // removed while we looked, or not a container directory
    }
  }
  return out;
}
