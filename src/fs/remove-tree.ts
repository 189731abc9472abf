import { chmodSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * `rm -rf` of a tree tsrun's caller made, such as a container's state dir with its overlay upper and work
 * dirs. overlayfs makes `work/work` mode 0: host root removes it anyway, a rootless owner must first give
 * itself access. So on EACCES/EPERM every directory of the tree (never through a symlink) is made 0700 where
 * the caller may, and the removal tried again; what is still refused (files of another owner, such as a
 * subordinate uid's in an upper) is thrown.
 */
export function removeTree(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw e;
  }
  openDirs(dir);
  rmSync(dir, { recursive: true, force: true });
}

function openDirs(dir: string): void {
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory()) return;
    if ((st.mode & 0o700) !== 0o700) chmodSync(dir, 0o700);
    for (const name of readdirSync(dir)) openDirs(join(dir, name));
  } catch {
    // not ours to open: the second removal reports it
  }
}
