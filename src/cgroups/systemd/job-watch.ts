// systemd's JobRemoved signals, matched to the job a call returned. Recording starts before the call,
// so a job that finishes before its path is known is not missed.
import { DbusError } from "../../errors.js";
import type { DbusConnection } from "./dbus-connection.js";
import type { DbusMessage } from "./dbus-wire.js";

export const SYSTEMD_NAME = "org.freedesktop.systemd1";
export const SYSTEMD_PATH = "/org/freedesktop/systemd1";
export const MANAGER_IFACE = "org.freedesktop.systemd1.Manager";

/** The match rule for JobRemoved (u id, o job, s unit, s result), added once per connection. */
export const JOB_REMOVED_RULE = `type='signal',sender='${SYSTEMD_NAME}',path='${SYSTEMD_PATH}',interface='${MANAGER_IFACE}',member='JobRemoved'`;

export interface JobWatch {
  /** The job's result ("done", "canceled", "timeout", "failed", "dependency", "skipped"); undefined after timeoutMs. */
  result(job: string, timeoutMs: number): Promise<string | undefined>;
  /** Stop recording. */
  end(): void;
}

/** Start recording JobRemoved signals on `conn` (the caller has added JOB_REMOVED_RULE and subscribed). */
export function watchJobs(conn: DbusConnection): JobWatch {
  const finished = new Map<string, string>();
  let waiter: { job: string; settle: (result: string | undefined, e?: DbusError) => void } | undefined;
  const offSignal = conn.onSignal((m: DbusMessage) => {
    if (m.path !== SYSTEMD_PATH || m.interface !== MANAGER_IFACE || m.member !== "JobRemoved" || m.signature !== "uoss") return;
    const [, job, , result] = m.body as [number, string, string, string];
    if (waiter?.job === job) waiter.settle(result);
    else finished.set(job, result);
  });
  let offClose = () => {};
  return {
    result(job, timeoutMs) {
      const seen = finished.get(job);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => waiter?.settle(undefined), timeoutMs);
        waiter = {
          job,
          settle: (result, e) => {
            clearTimeout(timer);
            waiter = undefined;
            offClose();
            if (e) reject(e);
            else resolve(result);
          },
        };
        offClose = conn.onClose((e) => waiter?.settle(undefined, e));
      });
    },
    end() {
      offSignal();
      offClose();
      finished.clear();
    },
  };
}
