/**
 * src/plan/unsupported.ts: fields tsrun cannot honour yet are refused with their path, never ignored.
 */
import { ConfigError } from "../../src/errors.js";
import { refuseUnsupported } from "../../src/plan/unsupported.js";

function fieldOf(spec: Record<string, unknown>): string {
  try {
    refuseUnsupported(spec);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toContain((e as ConfigError).field);
    return (e as ConfigError).field;
  }
  throw new Error("expected a ConfigError");
}

const hook = { path: "/bin/true" };

describe("refuseUnsupported", () => {
  test("a plain config passes", () => {
    expect(() => refuseUnsupported({ ociVersion: "1.2.0", process: { args: ["sh"], cwd: "/" }, linux: { namespaces: [] } })).not.toThrow();
    expect(() => refuseUnsupported({})).not.toThrow();
  });

  test("empty hook lists are accepted (managers write them)", () => {
    expect(() => refuseUnsupported({ hooks: { prestart: [], createRuntime: [], poststop: [] } })).not.toThrow();
    expect(() => refuseUnsupported({ hooks: {} })).not.toThrow();
  });

  test.each(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])("a %s hook is refused", (kind) => {
    expect(fieldOf({ hooks: { prestart: [], [kind]: [hook] } })).toBe(`/hooks/${kind}`);
  });

  test.each([
    [{ linux: { intelRdt: { closID: "x" } } }, "/linux/intelRdt"],
    [{ linux: { personality: { domain: "LINUX32" } } }, "/linux/personality"],
    [{ process: { scheduler: { policy: "SCHED_OTHER" } } }, "/process/scheduler"],
    [{ process: { ioPriority: { class: "IOPRIO_CLASS_IDLE" } } }, "/process/ioPriority"],
    [{ process: { execCPUAffinity: { initial: "0" } } }, "/process/execCPUAffinity"],
    [{ process: { selinuxLabel: "system_u:system_r:container_t:s0" } }, "/process/selinuxLabel"],
  ])("%j is refused with %s", (spec, field) => {
    expect(fieldOf(spec)).toBe(field);
  });
});

test("memoryPolicy and netDevices are refused with their path rather than ignored", () => {
  expect(() => refuseUnsupported({ linux: { memoryPolicy: { mode: "MPOL_BIND", nodes: "0" } } })).toThrow(/\/linux\/memoryPolicy/);
  expect(() => refuseUnsupported({ linux: { netDevices: { eth1: {} } } })).toThrow(/\/linux\/netDevices/);
  expect(() => refuseUnsupported({ linux: { netDevices: {} } })).not.toThrow();
});
