// `tsrun features` against runtime-spec 1.3's features.md and features-linux.md: every object the spec
// defines is there, nothing else, and each says what tsrun really does with the matching config field.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { features, UNSAFE_CONFIG_ANNOTATIONS } from "../../src/cli/features.js";
import { kernelCanIdmap } from "../../src/fs/idmapped-mounts.js";
import { EXAMPLES } from "../helpers/examples.js";

const { validateSpec } = await import("../../src/spec/validate.js");
const { refuseIntelRdt, refuseUnsupported } = await import("../../src/plan/unsupported.js");

/** The fields of runtime-spec 1.3 features.md (top level) and features-linux.md (under `linux`). */
const SPEC_FIELDS = {
  top: ["ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations", "potentiallyUnsafeConfigAnnotations"],
  linux: ["namespaces", "capabilities", "cgroup", "seccomp", "apparmor", "selinux", "intelRdt", "mountExtensions", "netDevices", "memoryPolicy"],
  cgroup: ["v1", "v2", "systemd", "systemdUser", "rdma"],
  seccomp: ["enabled", "actions", "operators", "archs", "knownFlags", "supportedFlags"],
  intelRdt: ["enabled", "schemata", "monitoring"],
  memoryPolicy: ["modes", "flags"],
};
const keys = (o: object) => Object.keys(o).sort();

describe("features (runtime-spec 1.3)", () => {
  const f = features();

  test("every object of features.md and features-linux.md, and nothing the spec does not define", () => {
    expect(keys(f)).toEqual([...SPEC_FIELDS.top].sort());
    expect(keys(f.linux)).toEqual([...SPEC_FIELDS.linux].sort());
    expect(keys(f.linux.cgroup)).toEqual([...SPEC_FIELDS.cgroup].sort());
    expect(keys(f.linux.seccomp)).toEqual([...SPEC_FIELDS.seccomp].sort());
    expect(keys(f.linux.intelRdt)).toEqual([...SPEC_FIELDS.intelRdt].sort());
    expect(keys(f.linux.memoryPolicy)).toEqual([...SPEC_FIELDS.memoryPolicy].sort());
    expect(keys(f.linux.mountExtensions)).toEqual(["idmap"]);
    expect(keys(f.linux.mountExtensions.idmap)).toEqual(["enabled"]);
    expect(keys(f.linux.netDevices)).toEqual(["enabled"]);
    for (const o of [f.linux.apparmor, f.linux.selinux]) expect(keys(o)).toEqual(["enabled"]);
  });

  test("versions: 1.0.0 to 1.3.0, and a 1.3.0 config is accepted", () => {
    expect(f.ociVersionMin).toBe("1.0.0");
    expect(f.ociVersionMax).toBe("1.3.0");
    const spec = JSON.parse(readFileSync(join(EXAMPLES, "podman-config.json"), "utf8"));
    spec.ociVersion = "1.3.0";
    expect(() => validateSpec(spec)).not.toThrow();
  });

  test("the systemd driver is reported; what is refused is reported false", () => {
    expect(f.linux.cgroup.systemd).toBe(true);
    // rdma.max is written (resources-v1/v2), so the controller counts as supported, as runc reports it.
    expect(f.linux.cgroup.rdma).toBe(true);
    expect(f.linux.mountExtensions.idmap.enabled).toBe(kernelCanIdmap());
    expect(f.linux.netDevices.enabled).toBe(true);
    expect(f.linux.intelRdt).toEqual({ enabled: false, schemata: false, monitoring: false });
  });

  test("idmap is reported where the kernel has mount_setattr (Linux >= 5.12), and refused by create where not", () => {
    expect(["5.11.22", "5.12.0", "6.1.0-13-amd64", "4.19.0"].map((r) => kernelCanIdmap(r))).toEqual([false, true, true, false]);
    const idmapped = { mounts: [{ destination: "/a", type: "bind", source: "/b", options: ["bind", "ridmap"] }] };
    expect(() => refuseUnsupported(idmapped, "5.11.22")).toThrow(/\/mounts\/0\/options\/1: idmapped mounts need Linux >= 5\.12/);
    expect(() => refuseUnsupported(idmapped, "5.12.0")).not.toThrow();
  });

  test("the false ones match what create refuses", () => {
    const linux = (l: object) => () => refuseUnsupported({ linux: l });
    const idmapped = { mounts: [{ destination: "/a", type: "bind", source: "/b", options: ["bind"], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }] };
    if (!f.linux.mountExtensions.idmap.enabled) expect(() => refuseUnsupported(idmapped)).toThrow(/\/mounts\/0\/uidMappings/);
    if (!f.linux.netDevices.enabled) expect(linux({ netDevices: { eth1: {} } })).toThrow(/\/linux\/netDevices/);
    if (!f.linux.intelRdt.enabled) {
      expect(() => refuseIntelRdt({ closID: "c" }, "c1", undefined)).toThrow(/\/linux\/intelRdt/);
      expect(() => refuseIntelRdt({ closID: "c" }, "c1", "/sys/fs/resctrl")).toThrow(/\/linux\/intelRdt/);
    }
    if (f.linux.memoryPolicy.modes.length === 0) expect(linux({ memoryPolicy: { mode: "MPOL_BIND", nodes: "0" } })).toThrow(/\/linux\/memoryPolicy/);
  });

  test("memoryPolicy: every mode and flag of the config schema (set_mempolicy takes them all)", () => {
    const schema = JSON.parse(readFileSync(new URL("../../schemas/config.schema.json", import.meta.url), "utf8"));
    const def = schema.definitions.LinuxMemoryPolicy.properties;
    expect([...f.linux.memoryPolicy.modes].sort()).toEqual([...def.mode.enum].sort());
    expect([...f.linux.memoryPolicy.flags].sort()).toEqual([...def.flags.items.enum].sort());
  });

  test("potentiallyUnsafeConfigAnnotations: the annotations tsrun reads (a prefix ends with a dot)", () => {
    expect(f.potentiallyUnsafeConfigAnnotations).toEqual(UNSAFE_CONFIG_ANNOTATIONS);
    expect(f.potentiallyUnsafeConfigAnnotations).toContain("org.systemd.property.");
  });

  test("every manager example config is still accepted", () => {
    const files = readdirSync(EXAMPLES).filter((n) => n.endsWith("config.json") || n.includes("-config-"));
    expect(files.length).toBeGreaterThan(0);
    for (const n of files) {
      const spec = validateSpec(JSON.parse(readFileSync(join(EXAMPLES, n), "utf8")));
      expect(() => refuseUnsupported(spec as any)).not.toThrow();
    }
  });
});
