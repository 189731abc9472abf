/**
 * src/spec: schema validation (precompiled), semantic checks, bundle loading, `tsrun spec` defaults.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, PathError } from "../../src/errors.js";
import { EXAMPLES as examples } from "../helpers/examples.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const fixtures = join(repo, "test", "fixtures");

// The validator module is generated at build time; make sure it exists (and is current) before importing.
execFileSync(process.execPath, [join(repo, "src", "build", "gen-validator.mjs")], { cwd: repo });
const { validateSpec, validateProcess, validateResources } = await import("../../src/spec/validate.js");
const { loadBundle, locateJsonError, parseJson } = await import("../../src/spec/load.js");
const { defaultSpec } = await import("../../src/spec/default-spec.js");

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function readJson(path: string): Json {
  return JSON.parse(readFileSync(path, "utf8")) as Json;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Runs fn, expects a ConfigError, returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

function pathError(fn: () => unknown): PathError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PathError) return e;
    throw e;
  }
  throw new Error("expected a PathError, nothing was thrown");
}

/** containerd's config plus a full tsrun section: the base that the negative tests break one field of. */
function base(): Json {
  const spec = readJson(join(examples, "containerd-config.json"));
  spec.hooks = { poststop: [{ path: "/bin/true", args: ["true"], timeout: 5 }] };
  spec.tsrun = {
    layers: ["layers/base", "/abs/layer"],
    network: {
      bridge: "tsrun0",
      subnet: "10.88.0.0/16",
      gateway: "10.88.0.1",
      interfaces: [{ name: "eth0", addresses: ["10.88.0.2/16", "fd00::2/64"], mtu: 1500, mac: "02:42:ac:11:00:02" }],
      routes: [{ destination: "0.0.0.0/0", gateway: "10.88.0.1" }],
      dns: { nameservers: ["10.88.0.1", "2001:4860:4860::8888"], search: ["example.com"], options: ["ndots:1"] },
      hosts: [{ ip: "10.88.0.2", names: ["c1", "c1.example.com"] }],
      removeBridge: false,
    },
  };
  return spec;
}

describe("valid configs", () => {
  test.each(["podman-config.json", "podman-config-bridge-network.json", "containerd-config.json"])(
    "example %s validates",
    (file) => {
      const spec = validateSpec(readJson(join(examples, file)));
      expect(spec.ociVersion).toBe("1.0.2-dev");
    },
  );

  test("base config with a full tsrun section validates", () => {
    expect(validateSpec(base()).tsrun?.network?.interfaces?.[0]?.name).toBe("eth0");
  });

  test("checked-in runc spec outputs validate", () => {
    validateSpec(readJson(join(fixtures, "runc-spec.json")));
    validateSpec(readJson(join(fixtures, "runc-spec-rootless.json")));
  });

  const runc = spawnSync("runc", ["--version"]).status === 0;
  (runc ? test : test.skip)("live `runc spec` and `runc spec --rootless` validate", () => {
    for (const args of [["spec"], ["spec", "--rootless"]]) {
      const dir = mkdtempSync(join(tmpdir(), "tsrun-runc-spec-"));
      try {
        execFileSync("runc", args, { cwd: dir });
        validateSpec(readJson(join(dir, "config.json")));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test("defaultSpec() validates and matches `runc spec` (hostname aside)", () => {
    const spec = defaultSpec();
    expect(validateSpec(clone(spec))).toEqual(spec);
    const runcSpec = readJson(join(fixtures, "runc-spec.json"));
    expect(spec).toEqual({ ...runcSpec, hostname: "tsrun" });
    expect(spec.process?.args).toEqual(["sh"]);
    expect(spec.process?.terminal).toBe(true);
  });

  test("defaultSpec({rootless}) validates and matches `runc spec --rootless`", () => {
    const spec = defaultSpec({ rootless: true });
    validateSpec(clone(spec));
    const runcSpec = readJson(join(fixtures, "runc-spec-rootless.json"));
    runcSpec.linux.uidMappings[0].hostID = process.geteuid!();
    runcSpec.linux.gidMappings[0].hostID = process.getegid!();
    expect(spec).toEqual({ ...runcSpec, hostname: "tsrun" });
  });

  test("defaultSpec() returns a fresh object each call", () => {
    const a = defaultSpec();
    a.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
    expect(defaultSpec().process!.capabilities!.bounding).toHaveLength(3);
  });

  test("unknown properties are accepted everywhere", () => {
    const spec = base();
    const x = { "x-unknown": { nested: [1, "two"] } };
    Object.assign(spec, x);
    Object.assign(spec.root, x);
    Object.assign(spec.process, x);
    Object.assign(spec.process.user, x);
    Object.assign(spec.process.capabilities, x);
    Object.assign(spec.process.rlimits[0], x);
    Object.assign(spec.mounts[0], x);
    Object.assign(spec.hooks, x);
    Object.assign(spec.hooks.poststop[0], x);
    Object.assign(spec.linux, x);
    Object.assign(spec.linux.namespaces[0], x);
    Object.assign(spec.linux.resources, x);
    Object.assign(spec.linux.resources.memory, x);
    Object.assign(spec.linux.resources.cpu, x);
    Object.assign(spec.linux.resources.devices[0], x);
    spec.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", ...x, syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ", ...x }], ...x }] };
    Object.assign(spec.tsrun, x);
    Object.assign(spec.tsrun.network, x);
    Object.assign(spec.tsrun.network.interfaces[0], x);
    Object.assign(spec.tsrun.network.dns, x);
    expect(() => validateSpec(spec)).not.toThrow();
  });

  test("every optional Linux field of the spec is accepted with valid values", () => {
    const spec = base();
    Object.assign(spec.process, {
      terminal: true,
      consoleSize: { height: 25, width: 80 },
      commandLine: "ignored on linux",
      apparmorProfile: "p",
      selinuxLabel: "l",
      oomScoreAdj: -999,
      scheduler: { policy: "SCHED_FIFO", nice: -5, priority: 10, flags: ["SCHED_FLAG_RESET_ON_FORK"], runtime: 1, deadline: 2, period: 3 },
      ioPriority: { class: "IOPRIO_CLASS_IDLE", priority: 4 },
      execCPUAffinity: { initial: "7", final: "0-3,7" },
    });
    spec.process.user.umask = 0o22;
    spec.process.user.username = "root";
    spec.process.capabilities.ambient = ["CAP_NET_BIND_SERVICE"];
    spec.process.capabilities.inheritable = [];
    spec.root.readonly = true;
    spec.hostname = "h";
    spec.domainname = "d";
    spec.mounts.push({ destination: "/data", type: "none", source: "/src", options: ["rbind", "idmap"], uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }], gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] });
    spec.hooks = Object.fromEntries(
      ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"].map((h) => [h, [{ path: "/bin/true" }]]),
    );
    spec.annotations = { "com.example.k": "", "org.opencontainers.image.stopSignal": "15" };
    Object.assign(spec.linux, {
      namespaces: [...spec.linux.namespaces, { type: "user" }, { type: "cgroup" }, { type: "time" }],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      timeOffsets: { monotonic: { secs: -10, nanosecs: 5 }, boottime: { secs: 3600 } },
      devices: [
        { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
        { path: "/dev/fifo", type: "p" },
      ],
      netDevices: { eth1: { name: "net1" }, dummy0: {} },
      intelRdt: { closID: "g", l3CacheSchema: "L3:0=7f0", memBwSchema: "MB:0=20", schemata: ["L3:0=7f0", "MB:0=20"], enableMonitoring: true, enableCMT: true, enableMBM: false },
      sysctl: { "net.ipv4.ip_forward": "1" },
      seccomp: {
        defaultAction: "SCMP_ACT_ERRNO",
        defaultErrnoRet: 1,
        architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64"],
        flags: ["SECCOMP_FILTER_FLAG_LOG"],
        listenerPath: "/run/agent.sock",
        listenerMetadata: "m",
        syscalls: [{ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] }],
      },
      rootfsPropagation: "rslave",
      mountLabel: "system_u:object_r:container_file_t:s0",
      personality: { domain: "LINUX32", flags: [] },
      memoryPolicy: { mode: "MPOL_BIND", nodes: "0-1", flags: ["MPOL_F_STATIC_NODES"] },
    });
    Object.assign(spec.linux.resources, {
      memory: { limit: -1, reservation: 1, swap: 2, kernel: -1, kernelTCP: -1, swappiness: 60, disableOOMKiller: true, useHierarchy: true, checkBeforeUpdate: true },
      cpu: { shares: 1024, quota: -1, burst: 0, period: 100000, realtimeRuntime: 950000, realtimePeriod: 1000000, cpus: "2-3", mems: "0", idle: 1 },
      blockIO: {
        weight: 10,
        leafWeight: 10,
        weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 300 }, { major: 8, minor: 16, leafWeight: 1 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 600 }],
        throttleWriteBpsDevice: [],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 1 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 300 }],
      },
      hugepageLimits: [{ pageSize: "2MB", limit: 209715200 }, { pageSize: "64KB", limit: 1000000 }],
      network: { classID: 1048577, priorities: [{ name: "eth0", priority: 500 }] },
      pids: { limit: -1 },
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, rxe3: { hcaObjects: 1 } },
      unified: { "io.max": "259:0 rbps=2097152", "memory.high": "max" },
    });
    spec.process.rlimits.push({ type: "RLIMIT_CORE", soft: 0, hard: 18446744073709551615 });
    spec.tsrun.upperDir = "/var/lib/upper";
    expect(() => validateSpec(spec)).not.toThrow();
  });
});

describe("schema errors name the field", () => {
  // [description, mutation, expected field, expected detail (substring or regexp)]
  const cases: Array<[string, (s: Json) => void, string, string | RegExp]> = [
    ["ociVersion number", (s) => (s.ociVersion = 1), "/ociVersion", "must be string"],
    ["ociVersion not semver", (s) => (s.ociVersion = "1.0"), "/ociVersion", "must be a SemVer version"],
    ["ociVersion missing", (s) => delete s.ociVersion, "/ociVersion", "is required"],
    ["root missing", (s) => delete s.root, "/root", "is required"],
    ["root.path empty", (s) => (s.root.path = ""), "/root/path", "must not be empty"],
    ["process.args not an array", (s) => (s.process.args = "sh -c true"), "/process/args", "must be array"],
    ["process.args empty", (s) => (s.process.args = []), "/process/args", "must have at least 1 entry"],
    ["process.args item not a string", (s) => (s.process.args = ["sh", 1]), "/process/args/1", "must be string"],
    ["process.cwd missing", (s) => delete s.process.cwd, "/process/cwd", "is required"],
    ["process.cwd relative", (s) => (s.process.cwd = "tmp"), "/process/cwd", "must be an absolute path"],
    ["process.user missing", (s) => delete s.process.user, "/process/user", "is required"],
    ["uid negative", (s) => (s.process.user.uid = -1), "/process/user/uid", "must be >= 0"],
    ["uid above 2^32-1", (s) => (s.process.user.uid = 4294967296), "/process/user/uid", "must be <= 4294967295"],
    ["uid not an integer", (s) => (s.process.user.uid = 1.5), "/process/user/uid", "must be integer"],
    ["uid a string", (s) => (s.process.user.uid = "0"), "/process/user/uid", "must be integer"],
    ["gid missing", (s) => delete s.process.user.gid, "/process/user/gid", "is required"],
    ["additionalGids item negative", (s) => (s.process.user.additionalGids = [-5]), "/process/user/additionalGids/0", "must be >= 0"],
    ["terminal not boolean", (s) => (s.process.terminal = "yes"), "/process/terminal", "must be boolean"],
    ["consoleSize without width", (s) => (s.process.consoleSize = { height: 1 }), "/process/consoleSize/width", "is required"],
    ["rlimit type NOFILE", (s) => (s.process.rlimits[0].type = "NOFILE"), "/process/rlimits/0/type", "must be an RLIMIT_* name"],
    ["rlimit soft missing", (s) => delete s.process.rlimits[0].soft, "/process/rlimits/0/soft", "is required"],
    ["capability lower case", (s) => (s.process.capabilities.bounding[2] = "chown"), "/process/capabilities/bounding/2", "must be a capability name"],
    ["capabilities as an array (pre-1.0 form)", (s) => (s.process.capabilities = ["CAP_KILL"]), "/process/capabilities", "must be object"],
    ["oomScoreAdj out of range", (s) => (s.process.oomScoreAdj = 1001), "/process/oomScoreAdj", "must be <= 1000"],
    ["scheduler policy", (s) => (s.process.scheduler = { policy: "SCHED_FAST" }), "/process/scheduler/policy", /^must be one of: SCHED_OTHER, SCHED_FIFO/],
    ["ioPriority priority 8", (s) => (s.process.ioPriority = { class: "IOPRIO_CLASS_BE", priority: 8 }), "/process/ioPriority/priority", "must be <= 7"],
    ["execCPUAffinity bad list", (s) => (s.process.execCPUAffinity = { final: "0-3;7" }), "/process/execCPUAffinity/final", "must be a list such as 0-3,7"],
    ["mount destination missing", (s) => delete s.mounts[0].destination, "/mounts/0/destination", "is required"],
    ["mount options not array", (s) => (s.mounts[1].options = "nosuid"), "/mounts/1/options", "must be array"],
    ["mount uidMappings without gidMappings", (s) => (s.mounts[0].uidMappings = [{ containerID: 0, hostID: 1, size: 1 }]), "/mounts/0/gidMappings", "is required when uidMappings is set"],
    ["hook timeout 0", (s) => (s.hooks.poststop[0].timeout = 0), "/hooks/poststop/0/timeout", "must be >= 1"],
    ["hook path relative", (s) => (s.hooks.poststop[0].path = "bin/true"), "/hooks/poststop/0/path", "must be an absolute path"],
    ["hook path missing", (s) => (s.hooks.createRuntime = [{ args: [] }]), "/hooks/createRuntime/0/path", "is required"],
    ["annotation value not a string", (s) => (s.annotations = { "a.b": 1 }), "/annotations/a.b", "must be string"],
    ["annotation empty key", (s) => (s.annotations = { "": "x" }), "/annotations", 'key "" must not be empty'],
    ["namespace type foo", (s) => (s.linux.namespaces[0].type = "foo"), "/linux/namespaces/0/type", "must be one of: pid, network, mount, ipc, uts, user, cgroup, time"],
    ["namespace type missing", (s) => (s.linux.namespaces[1] = { path: "/proc/1/ns/ipc" }), "/linux/namespaces/1/type", "is required"],
    ["namespace path relative", (s) => (s.linux.namespaces[1].path = "proc/1/ns/ipc"), "/linux/namespaces/1/path", "must be an absolute path"],
    ["uidMappings size too big", (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 2 ** 32 }]), "/linux/uidMappings/0/size", "must be <= 4294967295"],
    ["cgroupsPath number", (s) => (s.linux.cgroupsPath = 5), "/linux/cgroupsPath", "must be string"],
    ["memory.limit string", (s) => (s.linux.resources.memory.limit = "64m"), "/linux/resources/memory/limit", "must be integer"],
    ["memory.swappiness 101", (s) => (s.linux.resources.memory.swappiness = 101), "/linux/resources/memory/swappiness", "must be <= 100"],
    ["cpu.shares negative", (s) => (s.linux.resources.cpu.shares = -2), "/linux/resources/cpu/shares", "must be >= 0"],
    ["device cgroup allow missing", (s) => delete s.linux.resources.devices[1].allow, "/linux/resources/devices/1/allow", "is required"],
    ["device cgroup access bad", (s) => (s.linux.resources.devices[1].access = "rwx"), "/linux/resources/devices/1/access", "must be a combination of r, w and m"],
    ["device cgroup type bad", (s) => (s.linux.resources.devices[1].type = "p"), "/linux/resources/devices/1/type", "must be one of: a, c, b"],
    ["pids.limit not an integer", (s) => (s.linux.resources.pids = { limit: 1.5 }), "/linux/resources/pids/limit", "must be integer"],
    ["weightDevice without weights", (s) => (s.linux.resources.blockIO = { weightDevice: [{ major: 8, minor: 0 }] }), "/linux/resources/blockIO/weightDevice/0", "must have at least one of: weight, leafWeight"],
    ["throttle device rate missing", (s) => (s.linux.resources.blockIO = { throttleReadBpsDevice: [{ major: 8, minor: 0 }] }), "/linux/resources/blockIO/throttleReadBpsDevice/0/rate", "is required"],
    ["blockIO weight above uint16", (s) => (s.linux.resources.blockIO = { weight: 65536 }), "/linux/resources/blockIO/weight", "must be <= 65535"],
    ["hugepage size bad", (s) => (s.linux.resources.hugepageLimits = [{ pageSize: "2M", limit: 1 }]), "/linux/resources/hugepageLimits/0/pageSize", "must be a page size"],
    ["rdma entry empty", (s) => (s.linux.resources.rdma = { mlx: {} }), "/linux/resources/rdma/mlx", "must have at least one of: hcaHandles, hcaObjects"],
    ["unified value number", (s) => (s.linux.resources.unified = { "memory.max": 5 }), "/linux/resources/unified/memory.max", "must be string"],
    ["device major missing for type c", (s) => (s.linux.devices = [{ path: "/dev/x", type: "c", minor: 1 }]), "/linux/devices/0/major", "is required"],
    ["device type bad", (s) => (s.linux.devices = [{ path: "/dev/x", type: "x" }]), "/linux/devices/0/type", "must be one of: c, b, u, p"],
    ["sysctl value number", (s) => (s.linux.sysctl = { "net.ipv4.ip_forward": 1 }), "/linux/sysctl/net.ipv4.ip_forward", "must be string"],
    ["seccomp defaultAction missing", (s) => (s.linux.seccomp = { syscalls: [] }), "/linux/seccomp/defaultAction", "is required"],
    ["seccomp action bad", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_NOPE" }), "/linux/seccomp/defaultAction", "must be one of: SCMP_ACT_KILL"],
    ["seccomp syscall names empty", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }] }), "/linux/seccomp/syscalls/0/names", "must have at least 1 entry"],
    ["seccomp arg op bad", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 0, op: "EQ" }] }] }), "/linux/seccomp/syscalls/0/args/0/op", "must be one of:"],
    ["seccomp arg index 6", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ERRNO", args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }] }] }), "/linux/seccomp/syscalls/0/args/0/index", "must be <= 5"],
    ["seccomp arch bad", (s) => (s.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", architectures: ["x86_64"] }), "/linux/seccomp/architectures/0", "must be an SCMP_ARCH_* name"],
    ["rootfsPropagation bad", (s) => (s.linux.rootfsPropagation = "everywhere"), "/linux/rootfsPropagation", "must be one of: shared, slave"],
    ["maskedPaths relative", (s) => (s.linux.maskedPaths[0] = "proc/kcore"), "/linux/maskedPaths/0", "must be an absolute path"],
    ["personality domain bad", (s) => (s.linux.personality = { domain: "BSD" }), "/linux/personality/domain", "must be one of: LINUX, LINUX32"],
    ["memoryPolicy mode missing", (s) => (s.linux.memoryPolicy = { nodes: "0" }), "/linux/memoryPolicy/mode", "is required"],
    ["intelRdt memBwSchema bad", (s) => (s.linux.intelRdt = { memBwSchema: "L3:0=1" }), "/linux/intelRdt/memBwSchema", "must start with MB:"],
    ["intelRdt schemata as one string (1.3: an array of lines)", (s) => (s.linux.intelRdt = { schemata: "L3:0=f" }), "/linux/intelRdt/schemata", "must be array"],
    ["tsrun not an object", (s) => (s.tsrun = []), "/tsrun", "must be object"],
    ["tsrun.layers empty string", (s) => (s.tsrun.layers = [""]), "/tsrun/layers/0", "must not be empty"],
    ["tsrun.layers empty list", (s) => (s.tsrun.layers = []), "/tsrun/layers", "must have at least 1 entry"],
    ["tsrun.upperDir number", (s) => (s.tsrun.upperDir = 1), "/tsrun/upperDir", "must be string"],
    ["network address /33", (s) => (s.tsrun.network.interfaces[0].addresses[0] = "10.0.0.1/33"), "/tsrun/network/interfaces/0/addresses/0", "must be an address with a prefix length"],
    ["network address without prefix", (s) => (s.tsrun.network.interfaces[0].addresses[1] = "fd00::2"), "/tsrun/network/interfaces/0/addresses/1", "must be an address with a prefix length"],
    ["network subnet bad octet", (s) => (s.tsrun.network.subnet = "10.300.0.0/16"), "/tsrun/network/subnet", "must be an address with a prefix length"],
    ["network gateway with prefix", (s) => (s.tsrun.network.gateway = "10.88.0.1/16"), "/tsrun/network/gateway", "must be an IPv4 or IPv6 address"],
    ["network mac bad", (s) => (s.tsrun.network.interfaces[0].mac = "02:42:ac:11:00"), "/tsrun/network/interfaces/0/mac", "must be a MAC address"],
    ["network mtu too small", (s) => (s.tsrun.network.interfaces[0].mtu = 10), "/tsrun/network/interfaces/0/mtu", "must be >= 68"],
    ["network bridge name too long", (s) => (s.tsrun.network.bridge = "a-very-long-bridge-name"), "/tsrun/network/bridge", "must be an interface name"],
    ["network interface name missing", (s) => delete s.tsrun.network.interfaces[0].name, "/tsrun/network/interfaces/0/name", "is required"],
    ["network route destination missing", (s) => (s.tsrun.network.routes = [{ gateway: "10.88.0.1" }]), "/tsrun/network/routes/0/destination", "is required"],
    ["network nameserver bad", (s) => (s.tsrun.network.dns.nameservers = ["1.1.1"]), "/tsrun/network/dns/nameservers/0", "must be an IPv4 or IPv6 address"],
    ["network hosts names empty", (s) => (s.tsrun.network.hosts = [{ ip: "10.0.0.1", names: [] }]), "/tsrun/network/hosts/0/names", "must have at least 1 entry"],
    ["network removeBridge not boolean", (s) => (s.tsrun.network.removeBridge = "yes"), "/tsrun/network/removeBridge", "must be boolean"],
  ];

  test.each(cases)("%s", (_name, mutate, field, detail) => {
    const spec = base();
    mutate(spec);
    const err = configError(() => validateSpec(spec));
    expect(err.field).toBe(field);
    if (typeof detail === "string") expect(err.message).toContain(`${field}: ${detail}`);
    else expect(err.message.slice(`config.json ${field}: `.length)).toMatch(detail);
    expect(err.message.startsWith(`config.json ${field}: `)).toBe(true);
  });

  test("message format", () => {
    const spec = base();
    spec.process.user.uid = -1;
    expect(configError(() => validateSpec(spec)).message).toBe("config.json /process/user/uid: must be >= 0");
  });

  test("a non-object config", () => {
    expect(configError(() => validateSpec([])).message).toBe("config.json: must be object");
    expect(configError(() => validateSpec(null)).message).toBe("config.json: must be object");
  });

  test("JSON pointer escaping of keys", () => {
    const spec = base();
    spec.annotations = { "a/b~c": 1 };
    expect(configError(() => validateSpec(spec)).field).toBe("/annotations/a~1b~0c");
  });
});

describe("semantic checks", () => {
  test("ociVersion must be 1.x", () => {
    const spec = base();
    spec.ociVersion = "2.0.0";
    const err = configError(() => validateSpec(spec));
    expect(err.field).toBe("/ociVersion");
    expect(err.message).toContain("unsupported version 2.0.0");
    spec.ociVersion = "0.5.0";
    expect(configError(() => validateSpec(spec)).field).toBe("/ociVersion");
    spec.ociVersion = "1.2.1-rc.1+build";
    expect(() => validateSpec(spec)).not.toThrow();
  });

  test("runtime-spec 1.3: ociVersion 1.3.0 accepted; pids.limit optional (absent: pids.max untouched)", () => {
    const spec = base();
    spec.ociVersion = "1.3.0";
    spec.linux.resources.pids = {};
    expect(validateSpec(spec).linux?.resources?.pids).toEqual({});
    spec.linux.resources.pids = { limit: 0 };
    expect(validateSpec(spec).linux?.resources?.pids?.limit).toBe(0);
  });

  test("duplicate namespace types", () => {
    const spec = base();
    spec.linux.namespaces.push({ type: "pid", path: "/proc/1/ns/pid" });
    const err = configError(() => validateSpec(spec));
    expect(err.field).toBe("/linux/namespaces/5/type");
    expect(err.message).toContain('duplicate namespace type "pid"');
  });

  test("id mappings need a user namespace", () => {
    const spec = base();
    spec.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    spec.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    expect(configError(() => validateSpec(clone(spec))).field).toBe("/linux/uidMappings");
    spec.linux.namespaces.push({ type: "user" });
    expect(() => validateSpec(clone(spec))).not.toThrow();
  });

  test("a new user namespace needs uid and gid mappings; a joined one does not", () => {
    const spec = base();
    spec.linux.namespaces.push({ type: "user" });
    let err = configError(() => validateSpec(clone(spec)));
    expect(err.field).toBe("/linux/uidMappings");
    expect(err.message).toContain("is required when a new user namespace is created");
    spec.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    err = configError(() => validateSpec(clone(spec)));
    expect(err.field).toBe("/linux/gidMappings");
    const joined = base();
    joined.linux.namespaces.push({ type: "user", path: "/proc/1/ns/user" });
    expect(() => validateSpec(joined)).not.toThrow();
  });

  test("timeOffsets need a new time namespace and known clocks", () => {
    const spec = base();
    spec.linux.timeOffsets = { monotonic: { secs: 10 } };
    expect(configError(() => validateSpec(clone(spec))).field).toBe("/linux/timeOffsets");
    spec.linux.namespaces.push({ type: "time", path: "/proc/1/ns/time" });
    expect(configError(() => validateSpec(clone(spec))).message).toContain("joining an existing time namespace");
    spec.linux.namespaces[5] = { type: "time" };
    expect(() => validateSpec(clone(spec))).not.toThrow();
    spec.linux.timeOffsets.realtime = { secs: 1 };
    expect(configError(() => validateSpec(clone(spec))).field).toBe("/linux/timeOffsets/realtime");
    spec.linux.timeOffsets = {};
    spec.linux.namespaces.pop();
    expect(() => validateSpec(clone(spec))).not.toThrow();
  });

  test("hostname and domainname need a UTS namespace", () => {
    const spec = base();
    spec.hostname = "c1";
    expect(() => validateSpec(clone(spec))).not.toThrow();
    spec.linux.namespaces = spec.linux.namespaces.filter((n: Json) => n.type !== "uts");
    expect(configError(() => validateSpec(clone(spec))).field).toBe("/hostname");
    delete spec.hostname;
    spec.domainname = "example.com";
    expect(configError(() => validateSpec(clone(spec))).field).toBe("/domainname");
  });

  test("duplicate rlimits and soft above hard", () => {
    const spec = base();
    spec.process.rlimits.push({ type: "RLIMIT_NOFILE", soft: 1, hard: 1 });
    const err = configError(() => validateSpec(clone(spec)));
    expect(err.field).toBe("/process/rlimits/1/type");
    expect(err.message).toContain("duplicate rlimit RLIMIT_NOFILE");
    spec.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 2048, hard: 1024 }];
    expect(configError(() => validateSpec(clone(spec))).field).toBe("/process/rlimits/0/soft");
  });

  test("relative mount destinations are accepted and made absolute (deprecated form)", () => {
    const spec = base();
    spec.mounts.push({ destination: "data/cache", type: "tmpfs", source: "tmpfs" });
    const out = validateSpec(spec);
    expect(out.mounts?.at(-1)?.destination).toBe("/data/cache");
  });

  test("seccomp listenerMetadata needs listenerPath", () => {
    const spec = base();
    spec.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", listenerMetadata: "m" };
    expect(configError(() => validateSpec(spec)).field).toBe("/linux/seccomp/listenerMetadata");
  });
});

describe("process and resources documents", () => {
  test.each(["containerd-exec-process.json", "podman-exec-process-tty.json"])("%s validates", (file) => {
    const p = validateProcess(readJson(join(examples, file)));
    expect(p.cwd).toBe("/");
    expect(p.args.length).toBeGreaterThan(0);
  });

  test("a process without user is root, as runc reads it; a bad user is still refused", () => {
    const p = readJson(join(examples, "containerd-exec-process.json"));
    delete p.user;
    expect(validateProcess(p).user).toEqual({ uid: 0, gid: 0 });
    expect(configError(() => validateProcess({ ...p, user: { uid: 1 } })).field).toBe("/user/gid");
  });

  test("process errors carry paths relative to the document, or to basePath", () => {
    const p = readJson(join(examples, "containerd-exec-process.json"));
    p.user.uid = -1;
    expect(configError(() => validateProcess(clone(p))).field).toBe("/user/uid");
    expect(configError(() => validateProcess(clone(p), "/process")).field).toBe("/process/user/uid");
    delete p.cwd;
    expect(configError(() => validateProcess(p)).field).toBe("/cwd");
    const dup = readJson(join(examples, "podman-exec-process-tty.json"));
    dup.rlimits.push({ type: "RLIMIT_NPROC", soft: 1, hard: 1 });
    expect(configError(() => validateProcess(dup)).field).toBe("/rlimits/2/type");
  });

  test("podman-update-resources.json validates", () => {
    const r = validateResources(readJson(join(examples, "podman-update-resources.json")));
    expect(r.memory?.limit).toBe(134217728);
  });

  test("resources errors", () => {
    expect(configError(() => validateResources({ memory: { limit: "1G" } })).field).toBe("/memory/limit");
    expect(configError(() => validateResources({ cpu: { cpus: "a" } })).field).toBe("/cpu/cpus");
    expect(configError(() => validateResources(5)).message).toBe("config.json: must be object");
  });
});

describe("loadBundle", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tsrun-bundle-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function writeBundle(config: unknown, opts: { rootfs?: boolean } = {}): string {
    const b = join(dir, "b");
    mkdirSync(b, { recursive: true });
    if (opts.rootfs !== false) mkdirSync(join(b, "rootfs"), { recursive: true });
    writeFileSync(join(b, "config.json"), typeof config === "string" ? config : JSON.stringify(config, null, 2));
    return b;
  }

  test("loads a bundle: real bundle path, rootfs relative to it", () => {
    const b = writeBundle(defaultSpec());
    const link = join(dir, "link");
    symlinkSync(b, link);
    const loaded = loadBundle(link);
    expect(loaded.bundle).toBe(b);
    expect(loaded.rootfs).toBe(join(b, "rootfs"));
    expect(loaded.spec.process?.args).toEqual(["sh"]);
  });

  test("relative bundle argument is resolved against the cwd", () => {
    const b = writeBundle(defaultSpec());
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(loadBundle("b").bundle).toBe(b);
    } finally {
      process.chdir(cwd);
    }
  });

  test("absolute root.path is used as is", () => {
    const other = join(dir, "elsewhere");
    mkdirSync(other);
    const spec = defaultSpec();
    spec.root.path = other;
    const b = writeBundle(spec, { rootfs: false });
    expect(loadBundle(b).rootfs).toBe(other);
  });

  test("missing bundle directory", () => {
    const missing = join(dir, "nope");
    const err = pathError(() => loadBundle(missing));
    expect(err.path).toBe(missing);
    expect(err.message).toBe(`${missing}: bundle directory does not exist`);
  });

  test("bundle that is a file", () => {
    const f = join(dir, "file");
    writeFileSync(f, "");
    expect(pathError(() => loadBundle(f)).message).toContain("bundle is not a directory");
  });

  test("missing config.json", () => {
    const b = join(dir, "empty");
    mkdirSync(b);
    const err = pathError(() => loadBundle(b));
    expect(err.path).toBe(join(b, "config.json"));
    expect(err.message).toContain("config.json does not exist");
  });

  test("bad JSON reports line and column", () => {
    const b = writeBundle('{\n  "ociVersion": "1.0.2",\n  "root": { "path": "rootfs" },,\n}\n');
    const err = configError(() => loadBundle(b));
    expect(err.field).toBe("");
    expect(err.message).toBe("config.json: invalid JSON at line 3 column 32: expected a property name in double quotes");
  });

  test("empty config.json", () => {
    const b = writeBundle("");
    expect(configError(() => loadBundle(b)).message).toBe("config.json: invalid JSON at line 1 column 1: unexpected end of input");
  });

  test("schema errors surface from loadBundle", () => {
    const spec = defaultSpec() as Json;
    spec.process.user.uid = "root";
    expect(configError(() => loadBundle(writeBundle(spec))).field).toBe("/process/user/uid");
  });

  test("missing rootfs", () => {
    const b = writeBundle(defaultSpec(), { rootfs: false });
    const err = pathError(() => loadBundle(b));
    expect(err.path).toBe(join(b, "rootfs"));
    expect(err.message).toContain("root filesystem directory (root.path) does not exist");
  });

  test("rootfs that is a file", () => {
    const b = writeBundle(defaultSpec(), { rootfs: false });
    writeFileSync(join(b, "rootfs"), "");
    expect(pathError(() => loadBundle(b)).message).toContain("is not a directory");
  });

  test("with tsrun.layers the mount point must still exist", () => {
    const spec = defaultSpec();
    spec.tsrun = { layers: ["layers/0"] };
    expect(pathError(() => loadBundle(writeBundle(spec, { rootfs: false }))).path).toMatch(/rootfs$/);
    rmSync(join(dir, "b"), { recursive: true });
    expect(loadBundle(writeBundle(spec)).spec.tsrun?.layers).toEqual(["layers/0"]);
  });

  test("a UTF-8 byte order mark is tolerated", () => {
    const b = writeBundle("\ufeff" + JSON.stringify(defaultSpec()));
    expect(loadBundle(b).spec.ociVersion).toBe("1.0.2-dev");
  });
});

describe("JSON error locator", () => {
  const at = (s: string) => locateJsonError(s);
  test.each<[string, number, string]>([
    ["", 0, "unexpected end of input"],
    ["{", 1, "unexpected end of input"],
    ['{"a":1,}', 7, "expected a property name in double quotes"],
    ['{"a" 1}', 5, "expected ':' after the property name"],
    ['{"a":1 "b":2}', 7, "expected ',' or '}'"],
    ["[1,2", 4, "unexpected end of input"],
    ["[1 2]", 3, "expected ',' or ']'"],
    ['"abc', 4, "unterminated string"],
    ['"a\\x"', 3, "invalid escape in string"],
    ['"\\u12g4"', 5, "invalid \\u escape"],
    ["tru", 3, "unexpected end of input"],
    ["{'a':1}", 1, "expected a property name in double quotes"],
    ["-", 0, "invalid number"],
    ["{} x", 3, "unexpected content after the JSON value"],
    ['"a\tb"', 2, "control character in string (escape it)"],
  ])("%j", (text, pos, reason) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(at(text)).toEqual({ pos, reason });
  });

  test("valid JSON has no error", () => {
    expect(at('{"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"]}')).toBeUndefined();
  });

  test("parseJson returns values and throws ConfigError", () => {
    expect(parseJson('{"a":1}')).toEqual({ a: 1 });
    expect(configError(() => parseJson("{\n\n  nope}")).message).toBe(
      "config.json: invalid JSON at line 3 column 3: expected a property name in double quotes",
    );
  });
});

describe("generated validator", () => {
  test("is self-contained (no ajv at run time) and the generator is idempotent", () => {
    const file = join(repo, "src", "spec", "generated", "validate-config.js");
    const before = readFileSync(file, "utf8");
    expect(before).not.toMatch(/\brequire\s*\(/);
    expect(before).not.toMatch(/from\s+["']ajv/);
    execFileSync(process.execPath, [join(repo, "src", "build", "gen-validator.mjs")], { cwd: repo });
    expect(readFileSync(file, "utf8")).toBe(before);
  });
});
