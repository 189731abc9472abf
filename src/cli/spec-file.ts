import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PathError } from "../errors.js";
import { defaultSpec } from "../spec/default-spec.js";

/** `tsrun spec`: write the default config, never over an existing one. */
export function writeDefaultSpec(bundle: string, rootless: boolean): void {
  const dir = resolve(bundle);
  if (!existsSync(dir)) throw new PathError(dir, "bundle directory does not exist");
  const file = join(dir, "config.json");
  if (existsSync(file)) throw new PathError(file, "already exists; remove it first");
  writeFileSync(file, JSON.stringify(defaultSpec({ rootless }), null, "\t") + "\n");
}
