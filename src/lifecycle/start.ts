import { closeSync, constants, openSync, readSync, unlinkSync } from "node:fs";
import { ContainerStateError, TsrunError } from "../errors.js";
import { isSameLiveProcess } from "../state/proc.js";
import { sleepMs } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { crashPoint } from "./faults.js";

/**
 * start (runtime.md): open the exec fifo, which releases the init blocked on it; the init writes one
 * byte and executes the user process. Removing the fifo is what makes the status "running".
 */
export function startContainer(ctx: RuntimeContext, id: string): void {
  const { store } = ctx;
  const unlock = store.lock(id);
  try {
    crashPoint("start", "locked");
    const rec = store.read(id);
    const status = store.status(rec);
    if (status !== "created") {
      const why = status === "stopped" ? "it has stopped" : status === "creating" ? "it is still being created" : `it is already ${status}`;
      throw new ContainerStateError(id, `cannot start container ${id}: ${why}`);
    }
    if (!rec.hasProcess) throw new ContainerStateError(id, `cannot start container ${id}: its config has no process to run`);
    const fifo = store.fifoPath(id);
    // O_NONBLOCK: never hang on a fifo whose writer has died; the init's own open completes now.
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      crashPoint("start", "fifo-open");
      unlinkSync(fifo);
      crashPoint("start", "fifo-removed");
      const buf = Buffer.alloc(1);
      for (let waited = 0; ; waited++) {
        let n = 0;
        try {
          n = readSync(fd, buf, 0, 1, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        }
        if (n === 1) break;
        // EOF or nothing yet: the init has not written; it may have died.
        if (!isSameLiveProcess(rec.pid, rec.pidStartTime)) {
          throw new TsrunError(`cannot start container ${id}: its init process (pid ${rec.pid}) exited before starting the process`);
        }
        sleepMs(waited < 100 ? 0.1 : 1);
      }
      crashPoint("start", "byte-read");
    } finally {
      closeSync(fd);
    }
    rec.status = "running";
    store.write(rec);
  } finally {
    unlock();
  }
}
