/**
 * src/cgroups/path.ts: the container's cgroup path inside each hierarchy.
 */
import { existsSync } from "node:fs";
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
