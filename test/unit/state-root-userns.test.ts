/**
 * src/state/root.ts: the default state root of a root caller inside a user namespace (rootless podman
 * runs the runtime as uid 0 of its own user namespace, where /run/tsrun is host root's), as runc 1.1's
 * shouldHonorXDGRuntimeDir.
 */
import { UsageError } from "../../src/errors.js";
import { DEFAULT_ROOT, defaultStateRoot } from "../../src/state/root.js";

describe("defaultStateRoot", () => {
  test("root in the initial user namespace keeps /run/tsrun, whatever XDG_RUNTIME_DIR says", () => {
    expect(defaultStateRoot(0, undefined)).toBe(DEFAULT_ROOT);
    expect(defaultStateRoot(0, "/run/user/0", false, "root")).toBe(DEFAULT_ROOT);
    expect(defaultStateRoot(0, "/run/user/0", false, "alice")).toBe(DEFAULT_ROOT);
  });

  test("root in a user namespace (rootless podman) uses XDG_RUNTIME_DIR/tsrun, as runc uses .../runc", () => {
    expect(defaultStateRoot(0, "/run/user/1001", true, "alice")).toBe("/run/user/1001/tsrun");
    expect(defaultStateRoot(0, "/run/user/1001", true, undefined)).toBe("/run/user/1001/tsrun");
  });

  test("root in a user namespace whose USER is root, or with no XDG_RUNTIME_DIR, keeps /run/tsrun", () => {
    expect(defaultStateRoot(0, "/run/user/1001", true, "root")).toBe(DEFAULT_ROOT);
    expect(defaultStateRoot(0, undefined, true, "alice")).toBe(DEFAULT_ROOT);
    expect(defaultStateRoot(0, "", true, "alice")).toBe(DEFAULT_ROOT);
  });

  test("any other user: XDG_RUNTIME_DIR/tsrun, or a usage error naming XDG_RUNTIME_DIR", () => {
    expect(defaultStateRoot(1001, "/run/user/1001")).toBe("/run/user/1001/tsrun");
    expect(() => defaultStateRoot(1001, undefined)).toThrow(UsageError);
    expect(() => defaultStateRoot(1001, undefined)).toThrow(/XDG_RUNTIME_DIR is not set/);
  });
});
