import { waitForExit } from "../init/launch.js";
import { initPath } from "../init/locate.js";

/** SIGKILL each process and wait until each has exited (pidfd + poll in tsrun-init, never sleep-and-poll). */
export function killAndWait(pids: Iterable<number>, timeoutMs = 10_000): void {
  const list = [...new Set(pids)].filter((p) => p > 0);
  if (!list.length) return;
  for (const pid of list) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const init = initPath();
  for (const pid of list) waitForExit(init, pid, timeoutMs);
}
