/**
 * src/plan/create-plan.ts: phase 1 of create. Every class of bad config is refused by planCreate, with the
 * typed error naming the field, before anything exists: these run without root and nothing is written.
 */
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { ConfigError, PathError } from "../../src/errors.js";
import { type CreatePlanInput, planCreate } from "../../src/plan/create-plan.js";
import { Op } from "../../src/launch/ops.js";
import { writePlanBundle } from "../helpers/plan-bundles.js";


const UNIFIED: CgroupHierarchy[] = [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "cpu memory pids io" }];
const LEGACY: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/cpu", version: 1, controllers: "cpu" },
  { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
  { mountPoint: "/sys/fs/cgroup/pids", version: 1, controllers: "pids" },
];

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "tsrun-create-plan-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
/** A bundle of the busybox config, edited, with an empty rootfs. */
function bundle(edit: (c: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  return writePlanBundle(join(work, `b${n++}`), edit);
}

/** The state root is never made: planCreate must not write there. */
const stateRoot = () => join(work, "state");

function input(dir: string, over: Partial<CreatePlanInput> = {}, hierarchies = UNIFIED): CreatePlanInput {
  return {
    id: "c1",
    bundle: dir,
    stateDir: join(stateRoot(), "c1"),
    fifoPath: join(stateRoot(), "c1", "exec.fifo"),
    host: { cgroups: (path) => cgroupDriver(path, { hierarchies }), hostCaps: (1n << 41n) - 1n, lastCap: 40, isHostNetns: () => false, selinux: false, hostRoot: true },
    ...over,
  };
}

const withoutNs = (c: any, type: string) => (c.linux.namespaces = c.linux.namespaces.filter((x: any) => x.type !== type)); // eslint-disable-line @typescript-eslint/no-explicit-any
const seccomp = (extra: object) => (c: any) => (c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", ...extra }); // eslint-disable-line @typescript-eslint/no-explicit-any

type Case = [string, (c: any) => void, string, string, CgroupHierarchy[]?]; // eslint-disable-line @typescript-eslint/no-explicit-any

// [what, edit, the field the error names, words of its message, the host's cgroup hierarchies]
const CONFIG_ERRORS: Case[] = [
  ["seccomp: bad default action", seccomp({ defaultAction: "SCMP_ACT_BOGUS" }), "/linux/seccomp/defaultAction", "must be one of"],
  ["seccomp: unknown architecture", seccomp({ architectures: ["SCMP_ARCH_NOPE"] }), "/linux/seccomp/architectures/0", 'unknown architecture "SCMP_ARCH_NOPE"'],
  ["seccomp: rule without syscalls", seccomp({ syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }] }), "/linux/seccomp/syscalls/0/names", "at least 1"],
  ["seccomp: argument index", seccomp({ syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 9, value: 1, op: "SCMP_CMP_EQ" }] }] }), "/linux/seccomp/syscalls/0/args/0/index", "<= 5"],
  ["seccomp: notify without a listener", seccomp({ syscalls: [{ names: ["read"], action: "SCMP_ACT_NOTIFY" }] }), "/linux/seccomp/syscalls/0/action", "needs /linux/seccomp/listenerPath"],
  ["sysctl: not namespaced", (c) => (c.linux.sysctl = { "kernel.panic": "1" }), "/linux/sysctl/kernel.panic", "would change the host"],
  ["sysctl: net.* without a network namespace", (c) => { withoutNs(c, "network"); c.linux.sysctl = { "net.ipv4.ip_forward": "1" }; }, "/linux/sysctl/net.ipv4.ip_forward", "needs a network namespace"],
  ["capability: unknown name", (c) => (c.process.capabilities.bounding = ["CAP_NOPE"]), "/process/capabilities/bounding/0", 'unknown capability "CAP_NOPE"'],
  ["rlimit: unknown type", (c) => (c.process.rlimits = [{ type: "RLIMIT_NOPE", hard: 1, soft: 1 }]), "/process/rlimits/0/type", 'unknown rlimit "RLIMIT_NOPE"'],
  ["rlimit: duplicate", (c) => (c.process.rlimits = [{ type: "RLIMIT_NOFILE", hard: 1, soft: 1 }, { type: "RLIMIT_NOFILE", hard: 2, soft: 2 }]), "/process/rlimits/1/type", "duplicate rlimit RLIMIT_NOFILE"],
  ["namespace: bad type", (c) => c.linux.namespaces.push({ type: "nope" }), "/linux/namespaces/6/type", "must be one of"],
  ["namespace: listed twice", (c) => c.linux.namespaces.push({ type: "pid" }), "/linux/namespaces/6/type", 'duplicate namespace type "pid"'],
  ["namespace: relative path", (c) => c.linux.namespaces.push({ type: "user", path: "proc/1/ns/user" }), "/linux/namespaces/6/path", "must be an absolute path"],
  ["namespace: time offsets without a time namespace", (c) => (c.linux.timeOffsets = { monotonic: { secs: 1 } }), "/linux/timeOffsets", "needs a new time namespace"],
  ["namespace: new user namespace without maps", (c) => c.linux.namespaces.push({ type: "user" }), "/linux/uidMappings", "required"],
  ["namespace: hostname without uts", (c) => withoutNs(c, "uts"), "/hostname", "UTS namespace"],
  ["mounts: unknown option", (c) => c.mounts.push({ destination: "/x", type: "tmpfs", source: "tmpfs", options: ["bogusopt"] }), "/mounts/7/options/0", 'mount option "bogusopt"'],
  ["mounts: tmpcopyup on a bind mount", (c) => c.mounts.push({ destination: "/x", type: "bind", source: "/tmp", options: ["rbind", "tmpcopyup"] }), "/mounts/7/options/1", "tmpcopyup applies to tmpfs mounts only"],
  ["mounts: no type", (c) => c.mounts.push({ destination: "/x", source: "none" }), "/mounts/7/type", "needs a type"],
  ["mounts: masked paths without a mount namespace", (c) => withoutNs(c, "mount"), "/linux/maskedPaths", "need a mount namespace"],
  ["devices: relative path", (c) => (c.linux.devices = [{ path: "dev/foo", type: "c", major: 1, minor: 3 }]), "/linux/devices/0/path", "must be an absolute path"],
  ["devices: bad type", (c) => (c.linux.devices = [{ path: "/dev/foo", type: "x", major: 1, minor: 3 }]), "/linux/devices/0/type", "must be one of"],
  ["device rules: bad access", (c) => (c.linux.resources = { devices: [{ allow: true, access: "rwq" }] }), "/linux/resources/devices/0/access", "combination of r, w and m"],
  ["resources: not an integer", (c) => (c.linux.resources = { pids: { limit: "x" } }), "/linux/resources/pids/limit", "must be integer"],
  ["resources: swap below the memory limit", (c) => (c.linux.resources = { memory: { limit: 4194304, swap: 1048576 } }), "/linux/resources/memory/swap", "must not be below the memory limit"],
  ["resources: realtime CPU on cgroup v2", (c) => (c.linux.resources = { cpu: { realtimeRuntime: 1000 } }), "/linux/resources/cpu/realtimeRuntime", "not supported by cgroup v2"],
  ["resources: unified on cgroup v1", (c) => (c.linux.resources = { unified: { "memory.high": "1" } }), "/linux/resources/unified", "cannot use unified on cgroup v1", LEGACY],
  ["resources: swappiness on cgroup v1", (c) => (c.linux.resources = { memory: { swappiness: 101 } }), "/linux/resources/memory/swappiness", "<= 100", LEGACY],
  ["cgroup path: the root", (c) => (c.linux.cgroupsPath = "/"), "/linux/cgroupsPath", "below the root"],
  ["layers: upper dir without layers", (c) => (c.tsrun = { upperDir: "up" }), "/tsrun/upperDir", "needs tsrun.layers"],
  ["layers: joined mount namespace", (c) => { withoutNs(c, "mount"); c.linux.namespaces.push({ type: "mount", path: "/proc/1/ns/mnt" }); c.linux.maskedPaths = []; c.linux.readonlyPaths = []; c.tsrun = { layers: ["rootfs"] }; }, "/tsrun/layers", "need a new mount namespace"],
  ["network: no network namespace", (c) => { withoutNs(c, "network"); c.tsrun = { network: { subnet: "10.9.0.0/24" } }; }, "/tsrun/network", "needs a new network namespace"],
  ["network: interface name", (c) => (c.tsrun = { network: { subnet: "10.9.0.0/24", interfaces: [{ name: "averyveryverylongname" }] } }), "/tsrun/network/interfaces/0/name", "interface name"],
  ["network: address outside the subnet", (c) => (c.tsrun = { network: { subnet: "10.9.0.0/24", interfaces: [{ name: "eth0", addresses: ["10.8.0.2/24"] }] } }), "/tsrun/network/interfaces/0/addresses/0", "outside the subnet"],
  ["hooks: relative path", (c) => (c.hooks = { prestart: [{ path: "bin/true" }] }), "/hooks/prestart/0/path", "must be an absolute path"],
  ["hooks: relative poststop path", (c) => (c.hooks = { poststop: [{ path: "true" }] }), "/hooks/poststop/0/path", "must be an absolute path"],
  ["Intel RDT without resctrl mounted", (c) => (c.linux.intelRdt = { closID: "x" }), "/linux/intelRdt", "none is mounted (/sys/fs/resctrl)"],
];

describe("every class of bad config is refused by planCreate, naming the field", () => {
  // A rest parameter: jest would pass a `done` callback in the place of a missing last element.
  test.each(CONFIG_ERRORS)("%s", (...[, edit, field, words, hierarchies]: Case) => {
    let err: unknown;
    try {
      planCreate(input(bundle(edit), {}, hierarchies));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(field);
    // The one line a user reads names the field and says what is wrong.
    expect((err as Error).message).toContain(`config.json ${field}: `);
    expect((err as Error).message).toContain(words);
    expect(existsSync(stateRoot())).toBe(false);
  });

  test("a missing layer or bind source is a PathError naming the path", () => {
    const layer = bundle((c) => (c.tsrun = { layers: ["nope"] }));
    expect(() => planCreate(input(layer))).toThrow(new PathError(join(layer, "nope"), "layer /tsrun/layers/0 does not exist"));
    const bind = bundle((c) => c.mounts.push({ destination: "/x", type: "bind", source: "/nonexistent-tsrun-source", options: ["rbind"] }));
    expect(() => planCreate(input(bind))).toThrow(/\/nonexistent-tsrun-source: bind mount source of \/mounts\/7 \(\/x\)/);
    expect(existsSync(stateRoot())).toBe(false);
  });

  test("console flags: a terminal without --console-socket when detached", () => {
    expect(() => planCreate(input(bundle((c) => (c.process.terminal = true))))).toThrow(/console-socket/);
  });
});

describe("a valid config: the whole create, in one frozen value", () => {
  test("namespaces, cgroup, hooks, seccomp and the launch records", () => {
    const dir = bundle((c) => {
      c.linux.resources = { ...c.linux.resources, pids: { limit: 64 } };
      c.hooks = { prestart: [{ path: "/bin/true" }], poststop: [{ path: "/bin/echo", args: ["echo", "bye"] }] };
      c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{ names: ["mount", "umount2"], action: "SCMP_ACT_ERRNO" }] };
      c.annotations = { a: "b" };
    });
    const before = readdirSync(dir).sort();
    const plan = planCreate(input(dir));
    expect(readdirSync(dir).sort()).toEqual(before);
    expect(existsSync(stateRoot())).toBe(false);

    expect(plan.id).toBe("c1");
    expect(plan.rootfs).toBe(join(dir, "rootfs"));
    expect(plan.annotations).toEqual({ a: "b" });
    expect([...plan.namespaces.types].sort()).toEqual(["cgroup", "ipc", "mount", "network", "pid", "uts"]);
    expect(plan.idMaps).toBeUndefined();
    expect(plan.cgroup.path).toBe("/tsrun/c1");
    expect(plan.cgroup.join.cloneInto).toBe("/sys/fs/cgroup/tsrun/c1");
    expect(plan.cgroup.planned.writes).toContainEqual(expect.objectContaining({ file: "pids.max", value: "64", field: "/linux/resources/pids/limit" }));
    expect(plan.cgroup.deviceRules.length).toBeGreaterThan(0);
    expect(plan.hooks.prestart.map((h) => h.path)).toEqual(["/bin/true"]);
    expect(plan.hooks.poststop.map((h) => h.args)).toEqual([["echo", "bye"]]);
    expect(plan.hooks.createRuntime).toEqual([]);
    expect(plan.seccomp?.summary).toMatchObject({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], rules: 1, syscalls: 2 });
    expect(JSON.parse(plan.seccomp!.saved).syscalls[0].names).toEqual(["mount", "umount2"]);
    expect(plan.launch.hooksSyncTag).toBeDefined();
    expect(plan.launch.records.some((r) => r.op === Op.SECCOMP)).toBe(true);
    expect(plan.encoded.length).toBeGreaterThan(0);

    // Immutable: phase 2 acts on exactly what was planned.
    expect(Object.isFrozen(plan)).toBe(true);
    expect(Object.isFrozen(plan.cgroup.planned.writes)).toBe(true);
    expect(Object.isFrozen(plan.hooks.poststop)).toBe(true);
    expect(Object.isFrozen(plan.launch.records)).toBe(true);
  });

  test("pids.limit 0 waits for the init (cloned into a cgroup with pids.max 0 it could not be); other limits do not", () => {
    const plan = planCreate(input(bundle((c) => (c.linux.resources = { ...c.linux.resources, pids: { limit: 0 } }))));
    expect(plan.cgroup.join.cloneInto).toBe("/sys/fs/cgroup/tsrun/c1");
    expect(plan.cgroup.afterLaunch).toEqual({ pids: { limit: 0 } });
    expect(plan.cgroup.resources?.pids).toEqual({ limit: 0 });
    expect(planCreate(input(bundle((c) => (c.linux.resources = { pids: { limit: 1 } })))).cgroup.afterLaunch).toBeUndefined();
  });

  test("a new user namespace: the id-map texts", () => {
    const plan = planCreate(
      input(
        bundle((c) => {
          c.linux.namespaces.push({ type: "user" });
          c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
          c.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 1000 }, { containerID: 1000, hostID: 300000, size: 1 }];
        }),
      ),
    );
    // Host root writes them itself, setgroups left allowed.
    expect(plan.idMaps).toEqual({
      uid: { via: "write", text: "0 100000 65536\n" },
      gid: { via: "write", text: "0 200000 1000\n1000 300000 1\n" },
      setgroupsDenied: false,
    });
    expect(plan.cgroup.join.parentJoins).toEqual([]);
  });

  test("rootless: the caller's own ids are written directly, setgroups denied, and the init keeps its groups", () => {
    const rootless = { euid: 1500, egid: 1600, nonRootEuid: true, cgroups: true };
    const facts = { euid: 1500, egid: 1600, name: "alice", subuids: [], subgids: [] };
    const dir = bundle((c) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 1500, size: 1 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 1600, size: 1 }];
      delete c.linux.resources;
    });
    const base = input(dir);
    const plan = planCreate({ ...base, host: { ...base.host, hostRoot: false, rootless, idMapFacts: facts } });
    expect(plan.idMaps).toEqual({ uid: { via: "write", text: "0 1500 1\n" }, gid: { via: "write", text: "0 1600 1\n" }, setgroupsDenied: true });
    const setuser = plan.launch.records.find((r) => r.op === Op.SETUSER);
    expect(setuser?.ints?.slice(0, 3)).toEqual([0, 0, 0]);
    // The child is dumpable only around the sync where the caller writes its maps (its /proc files are
    // host root's otherwise).
    const recs = plan.launch.records;
    const sync = recs.findIndex((r) => r.op === Op.SYNC);
    expect(recs[sync - 1]).toEqual({ op: Op.PRCTL, ints: [4, 1] });
    expect(recs[sync + 1]).toEqual({ op: Op.PRCTL, ints: [4, 0] });
    expect(recs.filter((r) => r.op === Op.PRCTL && r.ints?.[0] === 4)).toHaveLength(2);
  });

  test("rootless: no user namespace, bridge networking, additional gids with setgroups denied: refused before anything is made", () => {
    const rootless = { euid: 1500, egid: 1600, nonRootEuid: true, cgroups: true };
    const facts = { euid: 1500, egid: 1600, name: "alice", subuids: [], subgids: [] };
    const run = (edit: (c: any) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const base = input(bundle((c) => { delete c.linux.resources; edit(c); }));
      return () => planCreate({ ...base, host: { ...base.host, hostRoot: false, rootless, idMapFacts: facts } });
    };
    const userns = (c: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 1500, size: 1 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 1600, size: 1 }];
    };
    expect(run(() => {})).toThrow(/^config.json \/linux\/namespaces: running as uid 1500 \(rootless\) needs a new user namespace/);
    expect(run((c) => { userns(c); c.tsrun = { network: { subnet: "10.9.0.0/24" } }; })).toThrow(/^config.json \/tsrun\/network: bridge networking needs host root/);
    expect(run((c) => { userns(c); c.process.user.additionalGids = [5]; })).toThrow(/^config.json \/process\/user\/additionalGids: cannot be set: setgroups is denied/);
    expect(run((c) => { userns(c); c.linux.uidMappings.push({ containerID: 1, hostID: 100000, size: 10 }); })).toThrow(/^config.json \/linux\/uidMappings\/1: maps host uids 100000-100009, which uid 1500 \(alice\) may not use/);
    expect(existsSync(stateRoot())).toBe(false);
  });

  test("the network: its plan, and the /etc files bound from the state dir after the config's mounts", () => {
    const plan = planCreate(input(bundle((c) => (c.tsrun = { network: { subnet: "10.9.0.0/24", dns: { nameservers: ["10.9.0.1"] } } }))));
    expect(plan.network?.plan.bridge).toBe("tsrun0");
    expect(plan.network?.plan.interfaces.map((i) => i.name)).toEqual(["eth0"]);
    const state = join(stateRoot(), "c1");
    expect(plan.network?.mounts.map((m) => [m.destination, m.source])).toEqual([
      ["/etc/hosts", join(state, "hosts")],
      ["/etc/resolv.conf", join(state, "resolv.conf")],
      ["/etc/hostname", join(state, "hostname")],
    ]);
    // The launch plan binds them (a BIND record per file, sourced in the state dir).
    const sources = plan.launch.records.flatMap((r) => r.strs ?? []).filter((s) => s.startsWith(state + "/"));
    expect(sources).toEqual(expect.arrayContaining([join(state, "hosts"), join(state, "resolv.conf"), join(state, "hostname")]));
    expect(existsSync(stateRoot())).toBe(false);
  });

  test("layers: resolved, with upper and work dirs in the state dir (not made)", () => {
    const dir = bundle();
    mkdirSync(join(dir, "layer0"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...JSON.parse(readFileSync(join(dir, "config.json"), "utf8")), tsrun: { layers: ["layer0"] } }));
    const plan = planCreate(input(dir));
    expect(plan.layers).toMatchObject({ lowers: [join(dir, "layer0")], upper: join(stateRoot(), "c1", "upper"), work: join(stateRoot(), "c1", "work"), persistent: false });
    expect(plan.launch.records.some((r) => r.op === Op.OVERLAY)).toBe(true);
    expect(existsSync(stateRoot())).toBe(false);
  });
});
