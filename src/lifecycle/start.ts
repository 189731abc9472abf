import { closeSync, constants, openSync, readSync, unlinkSync } from "node:fs";
import { ContainerStateError, HookError, InitError, TsrunError } from "../errors.js";
import { isSameLiveProcess } from "../state/proc.js";
import { waitForInputOrExit } from "../init/launch.js";
import { initPath } from "../init/locate.js";
import type { ContainerRecord } from "../state/store.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";
import { crashPoint } from "./faults.js";

/**
 * start (runtime.md): open the exec fifo, which releases the init blocked on it; the init runs the
 * startContainer hooks, writes "0" and executes the user process, or writes "1<message>" and exits
 * when a hook failed. Removing the fifo is what makes the status "running". Then the poststart hooks;
 * one that fails fails start and kills the container, as runc does.
 */
export async function startContainer(ctx: RuntimeContext, id: string): Promise<void> {
  const { store } = ctx;
  const unlock = store.lock(id);
  let rec: ContainerRecord;
  try {
    crashPoint("start", "locked");
    rec = store.read(id);
    checkVerb("start", liveStatus(store, rec), id);
    if (!rec.hasProcess) throw new ContainerStateError(id, `cannot start container ${id}: its config has no process to run`);
    const fifo = store.fifoPath(id);
    // O_NONBLOCK: never hang on a fifo whose writer has died; the init's own open completes now.
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      crashPoint("start", "fifo-open");
      // The fifo stays while startContainer hooks run: the status is "created" until the init's report.
      const failure = readStartReport(fd, rec);
      if (failure !== undefined) throw new InitError(`cannot start container ${id}: ${failure}`);
      crashPoint("start", "byte-read");
    } finally {
      closeSync(fd);
      unlinkSync(fifo);
    }
    crashPoint("start", "fifo-removed");
    rec.status = "running";
    store.write(rec);
  } finally {
    unlock();
  }
  // Without the lock: a poststart hook may itself call tsrun on this container (pause, update, ...).
  const poststart = rec.hooks?.poststart ?? [];
  if (poststart.length) {
    // Loaded only for a container with poststart hooks: every start pays for what it loads.
    const [{ runHooks }, { ociState }, { killAndWait }, { cgroupMembers }] = await Promise.all([
      import("../hooks/run.js"),
      import("./state.js"),
      import("./reap.js"),
      import("../cgroups/members.js"),
    ]);
    try {
      runHooks("poststart", poststart, ociState(rec, "running"));
    } catch (e) {
      // The process runs but start failed: leave no process behind (runc terminates the init too).
      killAndWait([...(isSameLiveProcess(rec.pid, rec.pidStartTime) ? [rec.pid] : []), ...cgroupMembers(rec.cgroupPath).pids()]);
      throw new HookError(`cannot start container ${id}: ${(e as Error).message}`);
    }
  }
}

/**
 * Read the init's report from the exec fifo: undefined once it wrote "0" (the process is next), the
 * message after a "1" otherwise (read to EOF: the init writes it and exits). The fifo is non-blocking
 * and the init may run startContainer hooks for a while: between reads, tsrun-init waits for the fifo
 * to have something or the init to exit (poll on both), so there is no polling sleep.
 */
function readStartReport(fd: number, rec: ContainerRecord): string | undefined {
  const buf = Buffer.alloc(4096);
  const got: Buffer[] = [];
  let total = 0;
  let initGone = false;
  for (;;) {
    let n = 0;
    let eof = false;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
      eof = n === 0;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
    if (n > 0) {
      got.push(Buffer.from(buf.subarray(0, n)));
      total += n;
      if (got[0][0] === 0x30) return undefined; // "0"
      continue;
    }
    // A writer has been there once we have a byte: EOF then is the end of its message.
    if (eof && total > 0) return Buffer.concat(got).subarray(1).toString("utf8").trim() || "the container's init failed";
    // EOF or nothing yet: the init has not written; it may have died. What it wrote just before it
    // exited (e.g. "0", then the process ran and ended at once) is still in the fifo: read once more.
    if (initGone) {
      throw new TsrunError(`cannot start container ${rec.id}: its init process (pid ${rec.pid}) exited before starting the process`);
    }
    if (!isSameLiveProcess(rec.pid, rec.pidStartTime)) {
      initGone = true;
      continue;
    }
    // Nothing yet (the init runs startContainer hooks, or is not scheduled yet): wait, without a polling
    // sleep, until the fifo has something or the init exits.
    waitForInputOrExit(initPath(), fd, rec.pid, 1000);
  }
}
