// Jest global set-up and tear-down (package.json "globalSetup"/"globalTeardown"). Integration tests run
// containers on the shared bundle rootfs dirs (bundles/*/rootfs), and tsrun-init creates a missing mount
// target there, as runc does. What the suite added is removed once every test file is done (not per
// file: another file's container may still be mounted on it). Only new, empty directories and files go.
import { existsSync, readdirSync, rmdirSync, statSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bundles = join(dirname(fileURLToPath(import.meta.url)), "..", "bundles");

function rootfsDirs() {
  if (!existsSync(bundles)) return [];
  return readdirSync(bundles)
    .map((b) => join(bundles, b, "rootfs"))
    .filter((d) => existsSync(d) && statSync(d).isDirectory());
}

export function snapshot() {
  return new Map(rootfsDirs().map((d) => [d, new Set(readdirSync(d))]));
}

/** Remove the empty entries that appeared at the top of each rootfs since `before`; returns their paths. */
export function removeAdded(before) {
  const removed = [];
  for (const [dir, names] of before) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      if (names.has(name)) continue;
      const p = join(dir, name);
      try {
        const st = statSync(p);
        if (st.isDirectory() && readdirSync(p).length === 0) rmdirSync(p);
        else if (st.isFile() && st.size === 0) unlinkSync(p);
        else continue;
        removed.push(p);
      } catch {
        // busy (still a mount point somewhere) or gone: leave it
      }
    }
  }
  return removed;
}

export async function setup() {
  globalThis.__tsrunRootfsBefore = snapshot();
}

export async function teardown() {
  if (globalThis.__tsrunRootfsBefore) removeAdded(globalThis.__tsrunRootfsBefore);
}
