/**
 * src/plan/unsupported.ts: fields tsrun cannot honour yet are refused with their path, never ignored.
 */
import { refuseIntelRdt, refuseUnsupported } from "../../src/plan/unsupported.js";

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

  test.each(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"])("a %s hook is accepted (hooks are honoured)", (kind) => {
    expect(() => refuseUnsupported({ hooks: { prestart: [], [kind]: [hook] } })).not.toThrow();
  });

  test("mount uidMappings/gidMappings are planned (test/unit/idmapped-mounts.test.ts), not refused here", () => {
    expect(() => refuseUnsupported({ mounts: [{ destination: "/a", type: "bind", source: "/b", uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }] })).not.toThrow();
    expect(() => refuseUnsupported({ mounts: [{ destination: "/a" }, { destination: "/b", gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }] })).not.toThrow();
  });

  test("intelRdt is refused by refuseIntelRdt, which knows the host's resctrl (test/unit/intel-rdt.test.ts)", () => {
    expect(() => refuseIntelRdt({ closID: "x" }, "c1", undefined)).toThrow(/\/linux\/intelRdt/);
  });
});

test("personality, scheduler, ioPriority, execCPUAffinity and LSM labels are planned, not refused here", () => {
  // Each is honoured (or refused with its own reason) by the planner: src/security/*, test/unit/privileges.test.ts.
  const spec = {
    linux: { personality: { domain: "LINUX32" } },
    process: { scheduler: { policy: "SCHED_OTHER" }, ioPriority: { class: "IOPRIO_CLASS_IDLE" }, execCPUAffinity: { initial: "0" }, selinuxLabel: "x", apparmorProfile: "y" },
  };
  expect(() => refuseUnsupported(spec)).not.toThrow();
});

test("memoryPolicy and netDevices are planned (test/unit/memory-policy.test.ts, netdevices.test.ts), not refused", () => {
  expect(() => refuseUnsupported({ linux: { memoryPolicy: { mode: "MPOL_BIND", nodes: "0" } } })).not.toThrow();
  expect(() => refuseUnsupported({ linux: { netDevices: { eth1: {} } } })).not.toThrow();
});
