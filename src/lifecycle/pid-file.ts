import { renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { PathError, systemReason } from "../errors.js";

/**
 * The pid with no trailing newline (containerd parses it with Atoi), written atomically (a temporary
 * file beside it, renamed). A failure names the file the user gave.
 */
export function writePidFile(file: string, pid: number): void {
  const tmp = `${dirname(file)}/.${process.pid}.tsrun-pid.tmp`;
  try {
    writeFileSync(tmp, String(pid));
    renameSync(tmp, file);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // never written (a read-only or missing directory)
    }
    throw new PathError(file, `cannot write the pid file: ${systemReason(e)}`);
  }
}
