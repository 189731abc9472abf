import { renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** The pid with no trailing newline (containerd parses it with Atoi), written atomically. */
export function writePidFile(file: string, pid: number): void {
  const tmp = `${dirname(file)}/.${process.pid}.tsrun-pid.tmp`;
  writeFileSync(tmp, String(pid));
  renameSync(tmp, file);
}
