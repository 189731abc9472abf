/**
 * src/cgroups/path.ts: the container's cgroup path inside each hierarchy; the cgroup driver's guard on it.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { ConfigError } from "../../src/errors.js";
import { cgroupPathFor } from "../../src/cgroups/path.js";

describe("cgroupPathFor", () => {
  test("no cgroupsPath: /tsrun/<id>", () => {
    expect(cgroupPathFor("c1", undefined)).toBe("/tsrun/c1");
    expect(cgroupPathFor("c1", "")).toBe("/tsrun/c1");
  });

  test("an absolute path is kept (podman, ctr)", () => {
    expect(cgroupPathFor("abc", "/libpod_parent/libpod-abc")).toBe("/libpod_parent/libpod-abc");
    expect(cgroupPathFor("abc", "/default/abc")).toBe("/default/abc");
  });

  test("a relative path is taken from the hierarchy root", () => {
    expect(cgroupPathFor("abc", "mygroup/abc")).toBe("/mygroup/abc");
  });

  test("redundant slashes are tidied", () => {
    expect(cgroupPathFor("abc", "/a//b/")).toBe("/a/b");
  });

  test.each(["/a/../b", "../escape", "a/..", "/..", "../.."])("%s is refused", (p) => {
    expect(() => cgroupPathFor("abc", p)).toThrow(ConfigError);
  });

  test("the root itself is refused", () => {
    expect(() => cgroupPathFor("abc", "/")).toThrow(ConfigError);
  });
});


test("a cgroup driver without a path never touches the hierarchy root (pids, rmdir of other cgroups)", () => {
  // A stand-in hierarchy root: a process list and another, empty, cgroup that must survive.
  const root = mkdtempSync(join(tmpdir(), "tsrun-cgroot-"));
  try {
    writeFileSync(join(root, "cgroup.procs"), "1\n2\n");
    mkdirSync(join(root, "other"));
    for (const path of ["", "/"]) {
      const set = cgroupDriver(path, { hierarchies: [{ mountPoint: root, version: 1, controllers: "pids" }] });
      expect(set.pids()).toEqual([]);
      set.remove();
      expect(existsSync(join(root, "other"))).toBe(true);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
