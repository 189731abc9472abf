/**
 * src/cli/globals.ts: runc's global flags, given before the verb.
 */
import { UsageError } from "../../src/errors.js";
import { parseGlobals, scanGlobals } from "../../src/cli/globals.js";

describe("parseGlobals", () => {
  test("defaults with no flags", () => {
    const { globals, rest } = parseGlobals(["state", "c1"]);
    expect(globals).toEqual({ logFormat: "text", debug: false, systemdCgroup: false, rootless: "auto" });
    expect(rest).toEqual(["state", "c1"]);
  });

  test("--root X and --root=X", () => {
    expect(parseGlobals(["--root", "/run/x", "list"]).globals.root).toBe("/run/x");
    expect(parseGlobals(["--root=/run/y", "list"]).globals.root).toBe("/run/y");
    expect(parseGlobals(["--root", "/run/x", "list"]).rest).toEqual(["list"]);
  });

  test("a value containing '=' is kept whole", () => {
    expect(parseGlobals(["--log=/tmp/a=b.log", "state"]).globals.log).toBe("/tmp/a=b.log");
  });

  test("--log-format json / text, anything else refused", () => {
    expect(parseGlobals(["--log-format", "json", "state"]).globals.logFormat).toBe("json");
    expect(parseGlobals(["--log-format=json", "state"]).globals.logFormat).toBe("json");
    expect(parseGlobals(["--log-format=text", "state"]).globals.logFormat).toBe("text");
    expect(() => parseGlobals(["--log-format=bad", "state"])).toThrow(UsageError);
    expect(() => parseGlobals(["--log-format", "xml", "state"])).toThrow(UsageError);
  });

  test("--debug and --systemd-cgroup are booleans", () => {
    const { globals, rest } = parseGlobals(["--debug", "--systemd-cgroup", "create", "c1"]);
    expect(globals.debug).toBe(true);
    expect(globals.systemdCgroup).toBe(true);
    expect(rest).toEqual(["create", "c1"]);
    expect(parseGlobals(["--debug=false", "list"]).globals.debug).toBe(false);
  });

  test("what a manager passes (containerd shim / podman)", () => {
    const argv = ["--root", "/run/containerd/runc/k8s.io", "--log", "/run/x/log.json", "--log-format", "json", "--systemd-cgroup", "delete", "--force", "abc"];
    const { globals, rest } = parseGlobals(argv);
    expect(globals).toEqual({ root: "/run/containerd/runc/k8s.io", log: "/run/x/log.json", logFormat: "json", debug: false, systemdCgroup: true, rootless: "auto" });
    expect(rest).toEqual(["delete", "--force", "abc"]);
  });

  test("--rootless takes true, false or auto (rootless podman passes it); anything else is refused", () => {
    expect(parseGlobals(["--rootless", "true", "list"]).globals.rootless).toBe("true");
    expect(parseGlobals(["--rootless=false", "list"]).globals.rootless).toBe("false");
    expect(parseGlobals(["--rootless", "auto", "list"]).globals.rootless).toBe("auto");
    expect(() => parseGlobals(["--rootless", "sometimes", "list"])).toThrow(/--rootless must be true, false or auto/);
  });

  test("an unknown global flag is refused", () => {
    expect(() => parseGlobals(["--frobnicate", "list"])).toThrow(UsageError);
    expect(() => parseGlobals(["--frobnicate", "list"])).toThrow(/--frobnicate/);
  });

  test("a flag needing a value with none is refused", () => {
    expect(() => parseGlobals(["--root"])).toThrow(UsageError);
  });

  test("parsing stops at the verb: later flags are the verb's", () => {
    const { globals, rest } = parseGlobals(["--root", "/r", "kill", "--all", "c1", "--debug"]);
    expect(globals.root).toBe("/r");
    expect(globals.debug).toBe(false);
    expect(rest).toEqual(["kill", "--all", "c1", "--debug"]);
    // an unknown flag after the verb is not the globals' business
    expect(parseGlobals(["create", "--bundle", "b", "--no-pivot", "c1"]).rest).toEqual(["create", "--bundle", "b", "--no-pivot", "c1"]);
  });

  test("--help and --version are left for the verb parser", () => {
    expect(parseGlobals(["--help"]).rest).toEqual(["--help"]);
    expect(parseGlobals(["--root", "/r", "--version"]).rest).toEqual(["--version"]);
  });
});

describe("scanGlobals", () => {
  test("a mistake is returned, not thrown, with the --log and --log-format read around it", () => {
    const before = scanGlobals(["--log", "/l.json", "--log-format", "json", "--bogus", "create", "c1"]);
    expect(before.error).toBeInstanceOf(UsageError);
    expect(before.error!.message).toMatch(/unknown global flag --bogus/);
    expect(before.globals).toMatchObject({ log: "/l.json", logFormat: "json" });
    // after the mistake too: the log still gets the error
    const after = scanGlobals(["--bogus", "--log=/l.json", "--log-format=json", "create", "c1"]);
    expect(after.error!.message).toMatch(/unknown global flag --bogus/);
    expect(after.globals).toMatchObject({ log: "/l.json", logFormat: "json" });
    expect(after.rest).toEqual(["create", "c1"]);
  });

  test("a bad --log-format leaves the format text (runc's default) and is the error", () => {
    const r = scanGlobals(["--log", "/l", "--log-format", "xml", "state", "c1"]);
    expect(r.error!.message).toMatch(/--log-format must be text or json, not "xml"/);
    expect(r.globals).toMatchObject({ log: "/l", logFormat: "text" });
  });

  test("the first mistake is the one reported; none: no error", () => {
    expect(scanGlobals(["--a", "--b", "list"]).error!.message).toMatch(/--a/);
    expect(scanGlobals(["--log", "/l", "list"]).error).toBeUndefined();
    expect(scanGlobals(["--log", "/l", "--root"]).error!.message).toMatch(/--root needs a value/);
  });
});
