import { statSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";

/** Where root's containers live (runc: /run/runc). */
export const DEFAULT_ROOT = "/run/tsrun";

/**
 * The state root when `--root` is not given: /run/tsrun for root; for any other user their own
 * $XDG_RUNTIME_DIR/tsrun (as runc: $XDG_RUNTIME_DIR/runc), which pam_systemd makes 0700 and theirs.
 * Root inside a user namespace (rootless podman runs the runtime as uid 0 of its own user namespace,
 * where /run/tsrun is not writable) is an ordinary user too, unless $USER says "root": runc's
 * shouldHonorXDGRuntimeDir. `inUserNs`: the caller is not in the initial user namespace. Pure.
 */
export function defaultStateRoot(euid: number, xdgRuntimeDir: string | undefined, inUserNs = false, user?: string): string {
  if (euid === 0) {
    return xdgRuntimeDir && inUserNs && user !== "root" ? join(xdgRuntimeDir, "tsrun") : DEFAULT_ROOT;
  }
  if (!xdgRuntimeDir) {
    throw new UsageError(
      `running as uid ${euid} (rootless): XDG_RUNTIME_DIR is not set, so there is no state root of your own; ` +
        "set XDG_RUNTIME_DIR or give --root DIR (a directory you own)",
    );
  }
  return join(xdgRuntimeDir, "tsrun");
}

/**
 * A state root that exists must be the caller's own when the caller is not root: containers in
 * another user's root can be neither signalled nor cleaned up by this one, and reading its state
 * would show another user's containers. (Root may use any directory, as with runc.)
 */
export function checkRootOwner(root: string, euid: number): void {
  if (euid === 0) return;
  let uid: number;
  try {
    uid = statSync(root).uid;
  } catch (e) {
    // Inside another user's 0700 directory (their $XDG_RUNTIME_DIR): not the caller's either.
    if ((e as NodeJS.ErrnoException).code === "EACCES") {
      throw new UsageError(`state root ${root} is not yours: uid ${euid} may not reach it (permission denied); give --root a directory you own`);
    }
    return; // made by the first create, 0700 and the caller's
  }
  if (uid !== euid) {
    throw new UsageError(`state root ${root} belongs to uid ${uid}, not to you (uid ${euid}): give --root a directory you own`);
  }
}
