/**
 * src/plan/describe: the dry run's steps (create --dry-run) from a config with mounts, capabilities,
 * rlimits, seccomp, cgroup resources, devices, hooks and network: every action, in create's order, as
 * numbered text lines under headings and as JSON.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { cgroupMountsOf } from "../../src/cgroups/mounts.js";
import { containerDeviceRules } from "../../src/cgroups/devices-rules.js";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { MS } from "../../src/fs/mount-flags.js";
import { planNetwork } from "../../src/network/plan.js";
import { buildPlan, type PlanSpec } from "../../src/plan/build.js";
import { capNames, cpuList, mountFlagNames, namespaceNames, propagationName, rlimitValue } from "../../src/plan/describe/decode.js";
import { dryRunJson, dryRunText } from "../../src/plan/describe/format.js";
import type { DryRunInputs, DryRunStep } from "../../src/plan/describe/inputs.js";
import { describeRecord } from "../../src/plan/describe/records.js";
import { dryRunSteps } from "../../src/plan/describe/steps.js";
import { Op } from "../../src/launch/ops.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8")) as PlanSpec;
const UNIFIED: CgroupHierarchy[] = [{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }];
const ALL_CAPS = (1n << 41n) - 1n;

let bundle: string;
let rootfs: string;
beforeAll(() => {
  bundle = mkdtempSync(join(tmpdir(), "tsrun-dry-run-test-"));
  rootfs = join(bundle, "rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  mkdirSync(join(bundle, "data"));
  writeFileSync(join(bundle, "hosts"), "");
});
afterAll(() => rmSync(bundle, { recursive: true, force: true }));

const hook = (path: string, ...args: string[]) => ({ path, args: [path, ...args] });

/** The busybox config with one of everything a dry run shows. */
function fullSpec(): any {
  const s = JSON.parse(JSON.stringify(BUSYBOX));
  s.mounts.push({ destination: "/data", type: "bind", source: join(bundle, "data"), options: ["rbind", "ro", "nosuid"] });
  s.process.rlimits.push({ type: "RLIMIT_NPROC", soft: 100, hard: 200 });
  s.process.capabilities.inheritable = ["CAP_KILL"];
  s.linux.resources = {
    memory: { limit: 67108864 },
    pids: { limit: 64 },
    devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 10, minor: 229, access: "rw" }],
  };
  s.linux.seccomp = {
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    syscalls: [{ names: ["read", "write", "exit_group"], action: "SCMP_ACT_ALLOW" }, { names: ["mkdir"], action: "SCMP_ACT_LOG" }],
  };
  s.hooks = {
    prestart: [hook("/usr/bin/pre")],
    createRuntime: [hook("/usr/bin/rt", "--x")],
    createContainer: [hook("/usr/bin/cc")],
    startContainer: [hook("/usr/bin/sc")],
    poststart: [hook("/usr/bin/ps1")],
    poststop: [hook("/usr/bin/stop", "now")],
  };
  s.tsrun = { network: { subnet: "10.88.0.0/16", interfaces: [{ name: "eth0" }, { name: "eth1", addresses: ["10.88.5.5/16"], mtu: 1400 }] } };
  return s;
}

function inputs(s: any, over: Partial<DryRunInputs> = {}): DryRunInputs {
  const net = planNetwork(s.tsrun?.network, "c1", { newNetns: true, joinedNetns: false, newUser: false })!;
  const etc = [{ name: "hosts", destination: "/etc/hosts" }];
  const spec = { ...s, mounts: [...s.mounts, { destination: "/etc/hosts", type: "bind", source: join(bundle, "hosts"), options: ["bind", "nosuid", "nodev", "noexec"] }] };
  const plan = buildPlan({
    spec,
    rootfs,
    bundle,
    fifoPath: "/run/tsrun/c1/exec.fifo",
    noPivot: false,
    preserveFds: 0,
    foreground: false,
    cgroupMounts: cgroupMountsOf("/tsrun/c1", UNIFIED),
    cgroupJoin: { cloneInto: "/sys/fs/cgroup/tsrun/c1", selfTasks: [] },
    hostCaps: ALL_CAPS,
    lastCap: 40,
    sessionKeyring: "c1",
    selinux: false,
    hostRoot: true,
  });
  const resources = cgroupDriver("/tsrun/c1", { hierarchies: UNIFIED }).planResources(s.linux!.resources ?? {});
  return {
    id: "c1",
    bundle,
    rootfs,
    root: "/run/tsrun",
    stateDir: "/run/tsrun/c1",
    foreground: false,
    cgroup: { path: "/tsrun/c1", dirs: ["/sys/fs/cgroup/tsrun/c1"], enable: ["cpu", "memory", "pids", "io"], writes: resources.writes },
    devices: { driver: "v2", dir: "/sys/fs/cgroup/tsrun/c1", rules: containerDeviceRules(s.linux!.resources?.devices, s.linux!.devices) },
    recordResources: true,
    network: { plan: net, makeBridge: true, etcFiles: etc },
    parentJoins: [],
    hooks: { prestart: s.hooks.prestart, createRuntime: s.hooks.createRuntime, poststart: s.hooks.poststart, poststop: s.hooks.poststop },
    launch: { records: plan.records, syncTag: plan.syncTag, hooksSyncTag: plan.hooksSyncTag, stateSlots: plan.stateSlots, seccompListener: plan.seccompListener },
    seccomp: { defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], rules: 2, flags: [], skipped: plan.seccompSkipped },
    pidFile: "/tmp/c1.pid",
    ...over,
  };
}

/** The index of the first line matching each pattern, each after the one before: fails naming the missing one. */
function inOrder(lines: readonly string[], patterns: readonly RegExp[]): void {
  let from = 0;
  for (const p of patterns) {
    const i = lines.findIndex((l, k) => k >= from && p.test(l));
    if (i < 0) throw new Error(`no line matching ${p} after line ${from}:\n${lines.slice(from).join("\n")}`);
    from = i + 1;
  }
}

describe("dry run steps", () => {
  test("every action of create, in its order, as numbered lines under headings", () => {
    const text = dryRunText("dry run of c1", dryRunSteps(inputs(fullSpec())));
    const lines = text.split("\n");
    expect(lines[0]).toBe("dry run of c1");
    inOrder(lines, [
      /^state:$/,
      /^ +1\. create the state directory \/run\/tsrun\/c1 \(mode 0700/,
      /^cgroup:$/,
      /create cgroup directory \/sys\/fs\/cgroup\/tsrun\/c1$/,
      /^devices:$/,
      /attach an eBPF device program to \/sys\/fs\/cgroup\/tsrun\/c1/,
      /deny a \*:\* rwm \(\/linux\/resources\/devices\/0\)$/,
      /allow c 10:229 rw \(\/linux\/resources\/devices\/1\)$/,
      /allow c 1:3 rwm \(default\)$/,
      /^resources:$/,
      /enable controllers cpu memory pids io in cgroup\.subtree_control/,
      /write memory\.max = 67108864 .*\[\/linux\/resources\/memory\/limit\]$/,
      /write pids\.max = 64 .*\[\/linux\/resources\/pids\/limit\]$/,
      /^network:$/,
      /lease an address leased from 10\.88\.0\.0\/16 for eth0 on bridge tsrun0$/,
      /lease 10\.88\.5\.5\/16 for eth1 on bridge tsrun0$/,
      /write \/run\/tsrun\/c1\/hosts \(bind-mounted on \/etc\/hosts\)$/,
      /create bridge tsrun0 with address 10\.88\.0\.1\/16 and bring it up$/,
      /start tsrun-init with the launch plan \(\d+ records\)$/,
      /mknod \/run\/tsrun\/c1\/exec\.fifo \(fifo, mode 0622/,
      /^namespaces:$/,
      /clone the container init into new namespaces: mount, uts, ipc, pid, network, started in cgroup \/sys\/fs\/cgroup\/tsrun\/c1; stage 0 exits$/,
      /wait at sync point "setup"/,
      /create veth pair ts[0-9a-f]{11} \(host\) \/ eth0 \(container\), attach ts[0-9a-f]{11} to tsrun0/,
      /create veth pair ts[0-9a-f]{11} \(host\) \/ eth1 \(container, mtu 1400\)/,
      /add an address leased from 10\.88\.0\.0\/16 to eth0$/,
      /add address 10\.88\.5\.5\/16 to eth1$/,
      /add default route 0\.0\.0\.0\/0 via 10\.88\.0\.1$/,
      /send the container's state \(status "creating"\) for the init's createContainer hooks/,
      /tell the init to go on$/,
      /unshare new namespaces: cgroup$/,
      /bring up lo in the new network namespace$/,
      /^mounts:$/,
      /make \/ rslave$/,
      /mount proc proc on .*\/rootfs\/proc/,
      /bind \/.*\/data on .*\/rootfs\/data \(bind,rec\)/,
      /remount .*\/rootfs\/data rdonly,nosuid \(bind\)/,
      /bind \/.*\/hosts on .*\/rootfs\/etc\/hosts/,
      /wait at sync point "hooks"/,
      /run hook \/hooks\/prestart\/0: \/usr\/bin\/pre \["\/usr\/bin\/pre"\]$/,
      /run hook \/hooks\/createRuntime\/0: \/usr\/bin\/rt \["\/usr\/bin\/rt","--x"\]$/,
      /run hook \/hooks\/createContainer\/0: \/usr\/bin\/cc/,
      /pivot_root into .*\/rootfs/,
      /mknod \/dev\/null \(char device 1:3, mode 0666, owner 0:0\)$/,
      /symlink \/dev\/fd -> \/proc\/self\/fd/,
      /^hostname:$/,
      /set the hostname to "tsrun-demo"$/,
      /^rlimits:$/,
      /set RLIMIT_NOFILE soft 1024 hard 1024$/,
      /set RLIMIT_NPROC soft 100 hard 200$/,
      /^capabilities:$/,
      /bounding set: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE \(every other capability up to 40 dropped\)$/,
      /become uid 0 gid 0/,
      /effective: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE; permitted: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE; inheritable: CAP_KILL$/,
      /ambient: CAP_KILL$/,
      /set no_new_privs$/,
      /^seccomp:$/,
      /load the seccomp filter \(\d+ BPF instructions, flags 0x0\): default action SCMP_ACT_ERRNO; architectures SCMP_ARCH_X86_64, SCMP_ARCH_X86; 2 rule\(s\); no listener$/,
      /wait until `tsrun start` opens the exec fifo$/,
      /run hook \/hooks\/startContainer\/0: \/usr\/bin\/sc/,
      /execute \["\/bin\/sh","\/demo\.sh"\] with 3 environment variable\(s\): PATH, TERM, HOME$/,
      /^created:$/,
      /record the init's pid and the status "created" in state\.json$/,
      /write the init's pid to \/tmp\/c1\.pid$/,
      /at `tsrun start`, once the process runs: run hook \/hooks\/poststart\/0/,
      /at `tsrun delete`: run hook \/hooks\/poststop\/0: \/usr\/bin\/stop \["\/usr\/bin\/stop","now"\]$/,
    ]);
    // Numbered 1..n, one per line.
    const numbers = lines.map((l) => /^ +(\d+)\. /.exec(l)?.[1]).filter(Boolean).map(Number);
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
  });

  test("JSON: the same steps, in order, with their decoded values", () => {
    const steps = JSON.parse(dryRunJson(dryRunSteps(inputs(fullSpec())))) as DryRunStep[];
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i + 1));
    for (const s of steps) expect(typeof s.action).toBe("string");
    const find = (re: RegExp) => {
      const s = steps.find((x) => re.test(x.action));
      if (!s) throw new Error(`no step ${re}`);
      return s;
    };
    expect(find(/^clone the container init/)).toMatchObject({ section: "namespaces", namespaces: ["mount", "uts", "ipc", "pid", "network"], foreground: false });
    expect(find(/^bind \/.*\/data on/)).toMatchObject({ section: "mounts", source: join(bundle, "data"), flags: ["bind", "rec"] });
    expect(find(/^write memory\.max/)).toMatchObject({ section: "resources", file: "memory.max", value: "67108864", field: "/linux/resources/memory/limit" });
    expect(find(/^set RLIMIT_NPROC/)).toMatchObject({ rlimit: "RLIMIT_NPROC", soft: "100", hard: "200" });
    expect(find(/^effective:/)).toMatchObject({ inheritable: ["CAP_KILL"] });
    const seccomp = find(/^load the seccomp filter/);
    expect(seccomp).toMatchObject({ section: "seccomp", defaultAction: "SCMP_ACT_ERRNO", rules: 2, listener: false });
    expect(seccomp.instructions).toBeGreaterThan(5);
    expect(find(/run hook \/hooks\/poststop\/0/)).toMatchObject({ section: "later", path: "/usr/bin/stop", args: ["/usr/bin/stop", "now"] });
    // Order: the cgroup is made before the init starts, the network attached at the first sync.
    const at = (re: RegExp) => find(re).step;
    expect(at(/^create cgroup directory/)).toBeLessThan(at(/^start tsrun-init/));
    expect(at(/^wait at sync point "setup"/)).toBeLessThan(at(/^create veth pair/));
    expect(at(/^create veth pair/)).toBeLessThan(at(/^tell the init to go on/));
  });

  test("a new user namespace: the id maps are written at the setup sync point; joined namespaces are named with their paths", () => {
    const s = JSON.parse(JSON.stringify(BUSYBOX));
    s.linux.namespaces = [{ type: "user" }, { type: "mount" }, { type: "pid" }, { type: "network", path: "/var/run/netns/x" }];
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.mounts = s.mounts.filter((m: { type: string }) => m.type !== "mqueue"); // no ipc namespace of its own
    delete s.hostname;
    const plan = buildPlan({
      spec: s, rootfs, bundle, fifoPath: "/run/tsrun/c1/exec.fifo", noPivot: false, preserveFds: 0, foreground: true,
      cgroupMounts: cgroupMountsOf("/tsrun/c1", UNIFIED), cgroupJoin: { cloneInto: "/sys/fs/cgroup/tsrun/c1", selfTasks: [] },
      hostCaps: ALL_CAPS, lastCap: 40, selinux: false, hostRoot: true,
    });
    const base = inputs(fullSpec());
    const text = dryRunText("t", dryRunSteps({
      ...base,
      network: undefined,
      hooks: { prestart: [], createRuntime: [], poststart: [], poststop: [] },
      seccomp: undefined,
      idMaps: { uid: s.linux.uidMappings, gid: s.linux.gidMappings },
      launch: { records: plan.records, syncTag: plan.syncTag, stateSlots: [] },
      run: { detach: false, keep: false },
    }));
    inOrder(text.split("\n"), [
      /^namespaces \(stage 0\):$/,
      /join the network namespace at \/var\/run\/netns\/x$/,
      /clone the container init into new namespaces: mount, user, pid, started in cgroup \/sys\/fs\/cgroup\/tsrun\/c1; stage 0 waits for it and exits with its status$/,
      /write the init's uid_map: 0 100000 65536$/,
      /write the init's gid_map: 0 100000 65536$/,
      /become uid 0 gid 0 \(root of the new user namespace\)$/,
      /^run:$/,
      /start the container/,
      /wait for the process to exit/,
      /delete the container/,
    ]);
  });
});

describe("decoding record values", () => {
  test("flags, masks and limits by name", () => {
    expect(mountFlagNames(MS.BIND | MS.REC | MS.RDONLY)).toEqual(["rdonly", "bind", "rec"]);
    expect(mountFlagNames(0x40000000)).toEqual(["0x40000000"]);
    expect(propagationName(MS.SLAVE | MS.REC)).toBe("rslave");
    expect(propagationName(MS.SHARED)).toBe("shared");
    expect(namespaceNames(0x00020000 | 0x40000000 | 0x00000080)).toEqual(["mount", "network", "time"]);
    expect(capNames((1n << 5n) | (1n << 21n))).toEqual(["CAP_KILL", "CAP_SYS_ADMIN"]);
    expect(rlimitValue(0xffffffffffffffffn)).toBe("unlimited");
    expect(rlimitValue(-1)).toBe("unlimited");
    expect(cpuList([0b1011n, 1n])).toBe("0-1,3,64");
  });

  test("an unknown op is still shown, with its values", () => {
    const r = describeRecord({ op: 999 as Op, ints: [1], strs: ["x"] });
    expect(r.action).toBe('op 999 ints ["1"] strings ["x"]');
  });

  test("layers, terminal, seccomp listener and sysctl records", () => {
    expect(describeRecord({ op: Op.OVERLAY, ints: [1, 0], strs: ["/r", "/s/upper", "/s/work", "/l/app", "/l/base"] }).action).toBe(
      "mount an overlay on /r: lower /l/app:/l/base, upper /s/upper, work /s/work (userxattr)",
    );
    expect(describeRecord({ op: Op.PTY, ints: [24, 80, 1000, 1], strs: ["/dev/pts/ptmx", "/dev/ptmx"] }).action).toBe(
      "open a pty from /dev/pts/ptmx, size 24x80, owner uid 1000, bound on /dev/console; send its master",
    );
    expect(describeRecord({ op: Op.SECCOMP_LISTENER, strs: ["/run/agent.sock"] })).toMatchObject({ section: "seccomp", action: "connect to the seccomp listener at /run/agent.sock" });
    expect(describeRecord({ op: Op.SECCOMP, ints: [8, 2, 1n, 2n, 3n] })).toMatchObject({
      action: "load the seccomp filter (3 BPF instructions, flags 0x8); the listener gets its notify fd",
      fields: { instructions: 3, listener: true },
    });
    expect(describeRecord({ op: Op.PROCFS_WRITE, strs: ["sys/net/ipv4/ip_forward", "1", "/linux/sysctl/net.ipv4.ip_forward", ""] })).toMatchObject({
      section: "sysctl",
      action: 'write "1" to /proc/sys/net/ipv4/ip_forward through the procfs handle (/linux/sysctl/net.ipv4.ip_forward)',
    });
  });

  test("a mount with no flags and no source", () => {
    expect(describeRecord({ op: Op.MOUNT, ints: [0, 0], strs: ["", "/x", "tmpfs", "", ""] }).action).toBe("mount tmpfs (no source) on /x (no flags)");
  });
});
