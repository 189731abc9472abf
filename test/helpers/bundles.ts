// The example bundles in bundles/, copied for a test that needs to change them a little.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Scratch, TOP } from "./tsrun.js";

export const BUNDLES = join(TOP, "bundles");

/**
 * A copy of bundles/<name> in the scratch dir (config.json edited by `edit`, the rest linked back),
 * so that a test can hold the process open or point it at its own namespaces without touching the
 * committed bundle. Relative paths in the config keep working: they are made absolute here.
 */
export function copyBundle(s: Scratch, name: string, edit: (c: any) => void = () => {}): string {
  const src = join(BUNDLES, name);
  const dir = join(s.dir, `b-${name.replace(/\//g, "-")}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  const c = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
  const abs = (p: string) => (p.startsWith("/") ? p : join(src, p));
  if (c.root.path === "rootfs") {
    mkdirSync(join(dir, "rootfs"));
  } else {
    c.root.path = abs(c.root.path);
  }
  if (c.tsrun?.layers) c.tsrun.layers = c.tsrun.layers.map(abs);
  for (const m of c.mounts) if (m.type === "bind" && !m.source.startsWith("/")) m.source = abs(m.source);
  edit(c);
  writeFileSync(join(dir, "config.json"), JSON.stringify(c, null, 2));
  copyFileSync(join(src, "demo.sh"), join(dir, "demo.sh"));
  return dir;
}

/** Keep the demo's process alive for `secs` after it has shown its results (its scripts read HOLD). */
export const hold = (c: any, secs = 30) => c.process.env.push(`HOLD=${secs}`);
