/**
 * The container lock (<root>/<id>/lock) and the lock-file protocol under it, which the address leases
 * of src/network/ipam.ts use too: a file made with link(2), holding its holder's pid and start time.
 */
import { linkSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ContainerStateError } from "../errors.js";
import { isSameLiveProcess, readProcStat } from "./proc.js";
import { sleepMs } from "./sleep.js";

/**
 * Take the lock of the container whose state directory is `stateDir`. A lock whose holder has died is
 * taken over. Waits up to `timeoutMs` for a live holder. Returns the unlock function.
 */
export function lockContainer(stateDir: string, id: string, timeoutMs = 10_000): () => void {
  return lockFile(join(stateDir, "lock"), timeoutMs, {
    missing: () => new ContainerStateError(id, `container ${id} does not exist`),
    busy: () => new ContainerStateError(id, `container ${id} is locked by another tsrun process`),
  });
}

/**
 * Take a lock file (made with link(2) of a filled-in file, so it appears atomically holding the
 * holder's pid and start time). A lock whose holder has died is taken over. Waits up to `timeoutMs`
 * for a live holder. Returns the unlock function.
 */
export function lockFile(file: string, timeoutMs: number, errors: { missing: () => Error; busy: () => Error }): () => void {
  const me = `${process.pid} ${readProcStat(process.pid)?.startTime ?? 0}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const tmp = `${file}.${process.pid}`;
      writeFileSync(tmp, me, { mode: 0o600 });
      try {
        linkSync(tmp, file);
      } finally {
        unlinkSync(tmp);
      }
      return () => {
        try {
          // Only our own: once the holder removed the directory (delete; a failed create's undo),
          // another create may have made it again and taken its lock under the same name.
          if (readFileSync(file, "utf8") === me) unlinkSync(file);
        } catch {
          // the directory was removed with the lock in it
        }
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw errors.missing();
      if (code !== "EEXIST") throw e;
    }
    const stale = staleLock(file);
    if (stale !== undefined) takeOver(file, stale, me);
    else sleepMs(2);
    if (Date.now() > deadline) throw errors.busy();
  }
}

/** The lock's text when its holder has died (the lock is stale), else undefined. */
function staleLock(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const [pid, start] = text.split(" ").map(Number);
  return isSameLiveProcess(pid, start) ? undefined : text;
}

/**
 * Remove a stale lock, but only that one: two waiters that both saw it stale must not both remove "it",
 * or the second would remove the lock the first has just taken, and both would hold it. So the removal
 * runs under a takeover guard (an O_EXCL file) and only if the lock still holds the dead holder's text.
 * A guard whose holder died is removed in turn (that needs a tsrun killed in these few lines).
 */
function takeOver(file: string, staleText: string, me: string): void {
  const guard = `${file}.takeover`;
  try {
    writeFileSync(guard, me, { flag: "wx", mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") return; // the directory went away: the caller sees it
    if (staleLock(guard) !== undefined) {
      try {
        unlinkSync(guard);
      } catch {
        // another waiter removed it first
      }
    }
    sleepMs(1);
    return;
  }
  try {
    if (readFileSync(file, "utf8") === staleText) unlinkSync(file);
  } catch {
    // gone already
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // the directory was removed meanwhile
    }
  }
}
