import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { LinuxSeccomp } from "../../spec/types.js";

/** The container's linux.seccomp, saved in its state dir at create, for the processes exec starts. */
export const SECCOMP_FILE = "seccomp.json";

/** The profile saved for the container whose state dir is `stateDir`, or undefined when it has none. */
export function savedSeccomp(stateDir: string): LinuxSeccomp | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, SECCOMP_FILE), "utf8")) as LinuxSeccomp;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}
