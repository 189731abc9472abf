// create --dry-run / run --dry-run: every action create would take is printed, none is taken. The state
// root, the cgroups, the mounts and the host's links are the same after it; a bad config fails with the
// very line and status create gives; any user may run it.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostVethName } from "../../src/network/plan.js";
import { IP } from "../helpers/host.js";
import { type Result, Scratch, TSRUN, ensureBuilt, leftovers } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => {
  ensureBuilt();
  // Another user must be able to read the bundles (and enter the cwd the calls run in).
  chmodSync(s.dir, 0o755);
});
afterAll(() => expect(s.cleanup()).toEqual([]));

/** The state root of the dry runs: never made (real creates use the scratch's own root). */
const DRY_ROOT = join(s.dir, "dry-root");
const dry = (args: string[], opts: Parameters<Scratch["command"]>[2] & { log?: string } = {}): Result =>
  s.command(TSRUN, [...(opts.log ? ["--log", opts.log] : []), "--root", DRY_ROOT, ...args], opts);

const BRIDGE = `tsdry${process.pid % 100000}`;
const NOBODY = 65534;

/** The busybox bundle with a bind mount, limits, rlimits, seccomp, hooks and a network. */
function fullBundle(): string {
  const data = join(s.dir, "data");
  if (!existsSync(data)) spawnSync("mkdir", ["-p", data]);
  const dir = s.bundle((c) => {
    c.mounts.push({ destination: "/data", type: "bind", source: data, options: ["rbind", "ro"] });
    c.process.rlimits.push({ type: "RLIMIT_NPROC", soft: 100, hard: 200 });
    c.linux.resources = { ...c.linux.resources, memory: { limit: 67108864 }, pids: { limit: 64 } };
    c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] };
    c.hooks = { prestart: [{ path: "/bin/true" }], poststop: [{ path: "/bin/true", args: ["true", "bye"] }] };
    c.tsrun = { network: { bridge: BRIDGE, subnet: "10.79.0.0/16" } };
  });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "config.json"), 0o644);
  return dir;
}

/** What a dry run must leave as it was: lines of mountinfo and `ip -o link` that could be its. */
function snapshot(id: string): { mounts: string[]; links: string[]; cgroups: string[]; root: boolean } {
  const mine = (l: string) => l.includes(s.dir) || l.includes(id);
  const names = [BRIDGE, hostVethName(id, 0)];
  const links = spawnSync(IP, ["-o", "link", "show"], { encoding: "utf8" }).stdout.split("\n").filter((l) => names.some((n) => l.includes(n)));
  const cgroups = ["/sys/fs/cgroup", ...readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h))]
    .map((h) => join(h, "tsrun", id))
    .filter((p) => existsSync(p));
  return { mounts: readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(mine), links, cgroups, root: existsSync(DRY_ROOT) };
}

test("create --dry-run prints create's actions in order and does none of them", () => {
  const b = fullBundle();
  const id = s.id("full");
  const before = snapshot(id);
  expect(before).toEqual({ mounts: [], links: [], cgroups: [], root: false });
  const r = dry(["create", "--dry-run", "--bundle", b, id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const lines = r.stdout.split("\n");
  expect(lines[0]).toContain(`tsrun create ${id} (dry run`);
  const want = [
    new RegExp(`create the state directory ${DRY_ROOT}/${id} `),
    new RegExp(`create cgroup directory /sys/fs/cgroup/.*tsrun/${id}$`),
    /allow c 1:3 rwm \(default\)$/,
    /write memory\.(max|limit_in_bytes) = 67108864/,
    /write pids\.max = 64/,
    /lease an address leased from 10\.79\.0\.0\/16 for eth0/,
    new RegExp(`create bridge ${BRIDGE} with address 10\\.79\\.0\\.1/16`),
    /start tsrun-init with the launch plan/,
    /clone the container init into new namespaces: mount, uts, ipc, pid, network/,
    /wait at sync point "setup"/,
    new RegExp(`create veth pair ${hostVethName(id, 0)} \\(host\\) / eth0`),
    /tell the init to go on/,
    /bind .*\/data on .*\/rootfs\/data \(bind,rec\)/,
    /run hook \/hooks\/prestart\/0: \/bin\/true/,
    /pivot_root into /,
    /set RLIMIT_NPROC soft 100 hard 200/,
    /bounding set: CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE/,
    /load the seccomp filter \(\d+ BPF instructions.*default action SCMP_ACT_ALLOW; architectures SCMP_ARCH_X86_64; 1 rule\(s\); no listener/,
    /execute \["\/bin\/true"\]/,
    /record the init's pid and the status "created"/,
    /at `tsrun delete`: run hook \/hooks\/poststop\/0: \/bin\/true \["true","bye"\]/,
  ];
  let from = 0;
  for (const re of want) {
    const i = lines.findIndex((l, k) => k >= from && re.test(l));
    if (i < 0) throw new Error(`no line matching ${re} after line ${from} in:\n${r.stdout}`);
    from = i + 1;
  }
  expect(snapshot(id)).toEqual(before);
  expect(leftovers(DRY_ROOT, [id])).toEqual([]);
});

test("--format json: the same steps as a JSON array; run --dry-run adds start, wait and delete", () => {
  const b = fullBundle();
  const id = s.id("json");
  const r = dry(["create", "--dry-run", "--format", "json", "--bundle", b, id]);
  expect(r.status).toBe(0);
  const steps = JSON.parse(r.stdout) as { step: number; section: string; action: string; [k: string]: unknown }[];
  expect(steps.map((x) => x.step)).toEqual(steps.map((_, i) => i + 1));
  const text = dry(["create", "--dry-run", "--bundle", b, id]).stdout;
  // The text form is the same actions, numbered the same.
  for (const x of steps) expect(text).toContain(`${x.step}. ${x.action}\n`);
  expect(steps.find((x) => x.action.startsWith("clone "))).toMatchObject({ section: "namespaces", foreground: false });

  const run = dry(["run", "--dry-run", "--format=json", "--bundle", b, id]);
  expect(run.status).toBe(0);
  const rs = JSON.parse(run.stdout) as { action: string; section: string; foreground?: boolean }[];
  expect(rs.find((x) => x.action.startsWith("clone "))).toMatchObject({ foreground: true });
  expect(rs.slice(-3).map((x) => x.action)).toEqual([
    expect.stringMatching(/^wait for the process to exit/),
    expect.stringMatching(/^delete the container/),
    expect.stringMatching(/run hook \/hooks\/poststop\/0/),
  ]);
  const detached = dry(["run", "--dry-run", "-d", "--bundle", b, id]);
  expect(detached.status).toBe(0);
  expect(detached.stdout).toContain("start the container");
  expect(detached.stdout).not.toContain("wait for the process to exit");
  expect(existsSync(DRY_ROOT)).toBe(false);
  expect(leftovers(DRY_ROOT, [id])).toEqual([]);
});

test("--format takes text or json, and only with --dry-run", () => {
  const b = s.bundle();
  const bad = dry(["create", "--dry-run", "--format", "yaml", "--bundle", b, "x"]);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toBe('tsrun: --format must be text or json, not "yaml"\n');
  const alone = dry(["create", "--format", "json", "--bundle", b, "x"]);
  expect(alone.status).toBe(1);
  expect(alone.stderr).toBe("tsrun: --format is for --dry-run only\n");
  expect(s.tsrun(["create", "--help"]).stdout).toContain("--dry-run");
  expect(existsSync(DRY_ROOT)).toBe(false);
});

describe("a bad config: the dry run fails with create's line and status", () => {
  const cases: [string, (c: any) => void][] = [
    ["an unknown capability", (c) => c.process.capabilities.bounding.push("CAP_NOPE")],
    ["an unknown rlimit", (c) => c.process.rlimits.push({ type: "RLIMIT_NOPE", soft: 1, hard: 1 })],
    ["a bad seccomp action", (c) => (c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOPE" }] })],
    ["a missing bind source", (c) => c.mounts.push({ destination: "/x", type: "bind", source: "/nonexistent/dry", options: ["bind"] })],
    ["an unknown namespace", (c) => c.linux.namespaces.push({ type: "nope" })],
    ["a cgroupsPath with ..", (c) => (c.linux.cgroupsPath = "a/../../b")],
    ["a bad device rule", (c) => c.linux.resources.devices.push({ allow: true, type: "x", access: "rwm" })],
    ["a missing layer", (c) => (c.tsrun = { layers: ["/nonexistent/layer"] })],
    ["an invalid network address", (c) => (c.tsrun = { network: { bridge: BRIDGE, interfaces: [{ name: "eth0", addresses: ["10.79.0.300/16"] }] } })],
    ["a hostname without a uts namespace", (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "uts"))],
    ["no process args", (c) => (c.process.args = [])],
  ];
  test.each(cases)("%s", (_, edit) => {
    const b = s.bundle(edit);
    const id = s.id("bad");
    const d = dry(["create", "--dry-run", "--bundle", b, id]);
    expect(d.stdout).toBe("");
    expect(d.stderr).toMatch(/^tsrun: .+\n$/);
    expect(existsSync(DRY_ROOT)).toBe(false);
    const real = s.tsrun(["create", "--bundle", b, id]);
    expect(d.stderr).toBe(real.stderr);
    expect(d.status).toBe(real.status);
    expect(d.status).not.toBe(0);
    const run = dry(["run", "--dry-run", "--format", "json", "--bundle", b, id]);
    expect([run.stdout, run.stderr, run.status]).toEqual(["", d.stderr, d.status]);
  });

  test("limits of controllers this host may lack (hugetlb, net_cls): the same outcome, warnings included", () => {
    const b = s.bundle((c) => {
      c.linux.resources.hugepageLimits = [{ pageSize: "2MB", limit: 2097152 }];
      c.linux.resources.network = { classID: 5 };
    });
    const id = s.id("ctl");
    const d = dry(["create", "--dry-run", "--bundle", b, id]);
    const real = s.tsrun(["create", "--bundle", b, id]);
    expect(d.stderr).toBe(real.stderr);
    expect(d.status).toBe(real.status);
    if (real.status === 0) expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
    expect(existsSync(DRY_ROOT)).toBe(false);
  });

  test("an id in use: create's \"already exists\"", () => {
    const b = s.bundle();
    const id = s.id("taken");
    expect(s.tsrun(["create", "--bundle", b, id]).status).toBe(0);
    // The dry run with the real root here: the id is taken there.
    const d = s.tsrun(["create", "--dry-run", "--bundle", b, id]);
    const real = s.tsrun(["create", "--bundle", b, id]);
    expect(d.stderr).toBe(real.stderr);
    expect(d.stderr).toContain("already exists");
    expect(d.status).toBe(real.status);
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });
});

test("as another user (nobody): that user's own create is planned, by the rootless rules, and nothing is made", () => {
  const b = fullBundle();
  const id = s.id("nobody");
  const log = join(s.dir, "nobody.log");
  writeFileSync(log, "");
  chmodSync(log, 0o666);
  // root's config: what nobody's create would say (no user namespace of its own).
  const r = dry(["create", "--dry-run", "--bundle", b, id], { uid: NOBODY, gid: NOBODY, log });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^tsrun: config.json \/linux\/namespaces: running as uid 65534 \(rootless\) needs a new user namespace/);
  // A rootless config: nobody mapped to root, no resources. The plan shows nobody's own map, written by
  // tsrun with setgroups denied, and the device nodes bound from the host.
  const rl = s.bundle((c) => {
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: NOBODY, size: 1 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: NOBODY, size: 1 }];
    delete c.linux.resources;
  });
  chmodSync(rl, 0o755);
  chmodSync(join(rl, "config.json"), 0o644);
  const ok = dry(["create", "--dry-run", "--bundle", rl, id], { uid: NOBODY, gid: NOBODY, log });
  expect(ok.stderr).toBe("");
  expect(ok.status).toBe(0);
  expect(ok.stdout).toContain(`write the init's uid_map: 0 ${NOBODY} 1`);
  expect(ok.stdout).toMatch(/bind .*\/dev\/null/);
  expect(ok.stdout).not.toMatch(/mknod .*\/dev\/null/);
  expect(existsSync(DRY_ROOT)).toBe(false);
  // A bad config of its own: the error its create gives.
  const bad = s.bundle((c) => {
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: NOBODY, size: 1 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: NOBODY, size: 1 }];
    delete c.linux.resources;
    c.process.capabilities.bounding.push("CAP_NOPE");
  });
  chmodSync(bad, 0o755);
  chmodSync(join(bad, "config.json"), 0o644);
  const e = dry(["create", "--dry-run", "--bundle", bad, id], { uid: NOBODY, gid: NOBODY });
  expect(e.status).toBe(1);
  expect(e.stderr).toBe('tsrun: config.json /process/capabilities/bounding/3: unknown capability "CAP_NOPE"\n');
  expect(leftovers(DRY_ROOT, [id])).toEqual([]);
});
