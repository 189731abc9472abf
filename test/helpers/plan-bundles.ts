// What the planner's unit tests share: bundles made of the busybox config (edited) with an empty rootfs,
// which planCreate reads and never runs, and the error a call throws.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TOP } from "./tsrun.js";

const BUSYBOX = readFileSync(join(TOP, "bundles", "busybox", "config.json"), "utf8");

/** A fresh copy of bundles/busybox/config.json. */
export function busyboxConfig(): any { // eslint-disable-line @typescript-eslint/no-explicit-any
  return JSON.parse(BUSYBOX);
}

/** `dir` as a bundle: an empty rootfs and the busybox config changed by `edit`. */
export function writePlanBundle(dir: string, edit: (c: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  mkdirSync(join(dir, "rootfs"), { recursive: true });
  const c = busyboxConfig();
  edit(c);
  writeFileSync(join(dir, "config.json"), JSON.stringify(c));
  return dir;
}

/** The error `fn` throws (the test fails when it throws none). */
export function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("did not throw");
}
