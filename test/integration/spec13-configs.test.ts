// Issue 18's acceptance: every manager config in ../shared/examples/, and a runtime-spec 1.3.0 config
// using each object 1.1-1.3 added, is accepted or refused exactly as spec-notes.md says. Judged by
// `create --dry-run`, which runs create's whole plan with this host's real facts (device lists, NUMA
// nodes, resctrl, links) and fails with the very line create gives, and does nothing.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXAMPLES } from "../helpers/examples.js";
import { IP } from "../helpers/host.js";
import { ROOTFS, type Result, Scratch, TOP, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
const NETNS = `tsacc${process.pid % 100000}`;
const DEV = "acc0";
beforeAll(() => {
  ensureBuilt();
  // A network namespace of the test's own, with a device for netDevices (never the machine's links).
  spawnSync(IP, ["netns", "add", NETNS]);
  const made = spawnSync(IP, ["-n", NETNS, "link", "add", DEV, "type", "ifb"], { encoding: "utf8" });
  if (made.status !== 0) spawnSync(IP, ["-n", NETNS, "link", "add", DEV, "type", "dummy"]);
});
afterAll(() => {
  spawnSync(IP, ["netns", "delete", NETNS]);
  expect(s.cleanup()).toEqual([]);
});

const features = () => JSON.parse(s.tsrun(["features"]).stdout);

/** `create --dry-run` of `config` written as a bundle; `inNetns`: run in the test's network namespace. */
function dry(config: object, inNetns = false): Result {
  const dir = join(s.dir, `b${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const args = ["--root", join(s.dir, "dry-root"), "create", "--dry-run", "--bundle", dir, s.id("acc")];
  return inNetns ? s.command(IP, ["netns", "exec", NETNS, TSRUN, ...args]) : s.command(TSRUN, args);
}

const accepted = (r: Result) => {
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
};
/** Refused as create refuses a config: one line naming the field. */
const refused = (r: Result, field: RegExp) => {
  expect(r.status).not.toBe(0);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(field);
};

/** A manager's config made runnable here: its image root becomes the busybox rootfs, its bind sources
 *  files of the test, a network namespace path the test's own. */
function example(name: string): any {
  const c = JSON.parse(readFileSync(join(EXAMPLES, name), "utf8"));
  c.root = { path: ROOTFS, readonly: true };
  for (const m of c.mounts) {
    if (m.type !== "bind") continue;
    const src = join(s.dir, "src", m.source.replace(/\//g, "_"));
    if (!existsSync(src)) {
      mkdirSync(join(s.dir, "src"), { recursive: true });
      if (/shm$/.test(m.source)) mkdirSync(src);
      else writeFileSync(src, "");
    }
    m.source = src;
  }
  for (const n of c.linux.namespaces) if (n.type === "network" && n.path) n.path = `/run/netns/${NETNS}`;
  return c;
}

/** The busybox config as runtime-spec 1.3.0, changed by `edit`. */
function v13(edit: (c: any) => void): any {
  const c = JSON.parse(readFileSync(join(TOP, "bundles/busybox/config.json"), "utf8"));
  c.ociVersion = "1.3.0";
  c.root = { path: ROOTFS, readonly: true };
  edit(c);
  return c;
}

describe("the managers' example configs", () => {
  test.each(["podman-config.json", "podman-config-bridge-network.json", "containerd-config.json"])("%s is accepted", (name) => {
    const r = dry(example(name));
    accepted(r);
    expect(r.stdout).toMatch(/start tsrun-init with the launch plan/);
  });
});

describe("runtime-spec 1.3.0 objects", () => {
  test("pids.limit 0 is a limit of zero; -1 is max; a pids object without limit writes nothing", () => {
    const lines = (limit: number | undefined) => {
      const r = dry(v13((c) => (c.linux.resources = { pids: limit === undefined ? {} : { limit } })));
      accepted(r);
      return r.stdout.split("\n").filter((l) => l.includes("pids.max"));
    };
    expect(lines(0)).toEqual([expect.stringMatching(/write pids\.max = 0 /)]);
    expect(lines(-1)).toEqual([expect.stringMatching(/write pids\.max = max /)]);
    expect(lines(undefined)).toEqual([]);
  });

  test("a poststart hook is accepted (1.3: its failure fails start, which tsrun did already)", () => {
    accepted(dry(v13((c) => (c.hooks = { poststart: [{ path: "/bin/true" }] }))));
  });

  test("memoryPolicy: accepted where the kernel has NUMA node 0, else refused naming the field", () => {
    const r = dry(v13((c) => (c.linux.memoryPolicy = { mode: "MPOL_BIND", nodes: "0", flags: ["MPOL_F_STATIC_NODES"] })));
    if (existsSync("/sys/devices/system/node/online")) accepted(r);
    else refused(r, /\/linux\/memoryPolicy/);
    refused(dry(v13((c) => (c.linux.memoryPolicy = { mode: "MPOL_BIND", nodes: "4000" }))), /\/linux\/memoryPolicy\/nodes/);
  });

  test("netDevices: a device of tsrun's network namespace is accepted; one that is not there, or no network namespace, refused", () => {
    const withNet = (name: string) => v13((c) => (c.linux.netDevices = { [name]: { name: "eth1" } }));
    accepted(dry(withNet(DEV), true));
    refused(dry(withNet("nosuchdev0"), true), /\/linux\/netDevices\/nosuchdev0: no network device/);
    const noNetns = withNet(DEV);
    noNetns.linux.namespaces = noNetns.linux.namespaces.filter((n: any) => n.type !== "network");
    refused(dry(noNetns, true), /\/linux\/netDevices/);
  });

  test("intelRdt (with 1.3's schemata and enableMonitoring) is refused naming the field, as features says", () => {
    expect(features().linux.intelRdt.enabled).toBe(false);
    refused(dry(v13((c) => (c.linux.intelRdt = { closID: "acc", schemata: ["L3:0=f"], enableMonitoring: true }))), /\/linux\/intelRdt/);
  });

  test("an idmapped bind mount is accepted where features says idmap is enabled, else refused naming the mount", () => {
    const data = join(s.dir, "idmap-data");
    mkdirSync(data, { recursive: true });
    chmodSync(data, 0o755);
    const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const r = dry(
      v13((c) => {
        c.linux.namespaces.push({ type: "user" });
        c.linux.uidMappings = map;
        c.linux.gidMappings = map;
        c.mounts.push({ destination: "/data", type: "bind", source: data, options: ["rbind"], uidMappings: map, gidMappings: map });
      }),
    );
    if (features().linux.mountExtensions.idmap.enabled) accepted(r);
    else refused(r, /\/mounts\/\d+\/uidMappings/);
  });
});
