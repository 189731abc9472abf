/**
 * test/rootfs-targets.mjs: after the suite, only what it added to a shared rootfs, and only if empty, goes.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeAdded } from "../rootfs-targets.mjs";

test("new empty dirs and files are removed; what was there, or has content, stays", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsrun-rootfs-"));
  try {
    mkdirSync(join(dir, "bin"));
    mkdirSync(join(dir, "old-empty"));
    const before = new Map([[dir, new Set(readdirSync(dir))]]);
    mkdirSync(join(dir, "t")); // a tmpfs target a test made
    writeFileSync(join(dir, "f"), ""); // a file bind target
    mkdirSync(join(dir, "kept"));
    writeFileSync(join(dir, "kept", "x"), "data");
    writeFileSync(join(dir, "note"), "text");
    expect(removeAdded(before).sort()).toEqual([join(dir, "f"), join(dir, "t")]);
    expect(readdirSync(dir).sort()).toEqual(["bin", "kept", "note", "old-empty"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
