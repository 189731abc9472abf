/**
 * src/cgroups/path.ts: the container's cgroup path inside each hierarchy; the cgroup driver's guard on it.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { ConfigError, HostError } from "../../src/errors.js";
import { cgroupPathFor } from "../../src/cgroups/path.js";

describe("cgroupPathFor", () => {
  test("no cgroupsPath: /tsrun/<id>", () => {
    expect(cgroupPathFor("c1", undefined, false)).toBe("/tsrun/c1");
    expect(cgroupPathFor("c1", "", false)).toBe("/tsrun/c1");
  });

  test("an absolute path is kept (podman, ctr)", () => {
    expect(cgroupPathFor("abc", "/libpod_parent/libpod-abc", false)).toBe("/libpod_parent/libpod-abc");
    expect(cgroupPathFor("abc", "/default/abc", false)).toBe("/default/abc");
  });

  test("a relative path is taken from the hierarchy root", () => {
    expect(cgroupPathFor("abc", "mygroup/abc", false)).toBe("/mygroup/abc");
  });

  test("redundant slashes are tidied", () => {
    expect(cgroupPathFor("abc", "/a//b/", false)).toBe("/a/b");
  });

  test.each(["/a/../b", "../escape", "a/..", "/..", "../.."])("%s is refused", (p) => {
    expect(() => cgroupPathFor("abc", p, false)).toThrow(ConfigError);
  });

  test("the root itself is refused", () => {
    expect(() => cgroupPathFor("abc", "/", false)).toThrow(ConfigError);
  });

  const noSystemd = !existsSync("/run/systemd/system");
  (noSystemd ? test : test.skip)("--systemd-cgroup on a host without systemd: HostError saying systemd is not running", () => {
    let err: unknown;
    try {
      cgroupPathFor("abc", "system.slice:libpod:abc", true);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HostError);
    expect((err as Error).message).toMatch(/systemd is not running/);
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
