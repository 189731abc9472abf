// Rootless cgroups (issue 16), as a user this test makes, on the host and in the cgroup-v2 VM
// (test/v2vm/cgroup-tests.sh runs every cgroup-*.test.ts there):
// - nothing writable (the host's cgroups are root's): a container asking for no resources runs with no
//   cgroup of its own, in the caller's; one asking for any is refused naming the field; the verbs that
//   need a cgroup say why in one line; kill --all and delete --force still end it;
// - cgroup v2 with a directory the test delegates as the consh talk does (chown of the directory and of
//   the files in /sys/kernel/cgroup/delegate): limits written and enforced (cpu.max), pause/resume, ps,
//   events, update, exec, delete; only in the VM (this host's cgroup2 mount has no controllers);
// - the consh seed bundle (bundles/consh) run by the user; cpu.max enforced in the VM.
// The user runs tsrun directly (the rootless podman way, root of a user namespace, is in
// podman-rootless.test.ts).
// SAFETY: the only cgroups written are the test's own (/sys/fs/cgroup/tsrt-*); the user is removed.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HIERARCHIES, V2, V2_MOUNT } from "../helpers/cgroups.js";
import { ROOTFS, TOP, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";
import { type AsUserResult, type TestUser, makeTestUser, rootlessBundle } from "../helpers/users.js";

const NO_CGROUP_LINE = /it has no cgroup of its own \(created rootless where no cgroup was writable; [^\n]*linux\.cgroupsPath[^\n]*\)\n$/;
/** This process's cgroups: a container with no cgroup of its own stays in them (tsrun is our child). */
const OWN_CGROUPS = readFileSync("/proc/self/cgroup", "utf8");

let u: TestUser;
/** The uid the messages name: the user's. */
let callerUid = 0;

/** tsrun as the test user; `cgroup`: moved into this cgroup v2 dir first (by root). */
function tsrun(args: string[], opts: { cgroup?: string; env?: NodeJS.ProcessEnv } = {}): AsUserResult {
  return u.run(TSRUN, args, { env: opts.env ?? u.env(), cgroup: opts.cgroup });
}

const stateDir = (id: string) => join(u.runtimeDir, "tsrun", id);
const record = (id: string) => JSON.parse(readFileSync(join(stateDir(id), "state.json"), "utf8"));
const statusOf = (id: string) => JSON.parse(tsrun(["state", id]).stdout).status as string;

let n = 0;
/**
 * A bundle in the user's home: the busybox rootfs and `tsrun spec --rootless` made by the user (so the
 * maps are the caller's), running `args`.
 */
function bundle(args: string[], edit: (c: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  return rootlessBundle(u, join(u.home, `b${n++}`), args, edit);
}

beforeAll(async () => {
  ensureBuilt();
  u = makeTestUser({ subids: true });
  callerUid = u.uid;
  const probe = bundle(["true"]);
  // An ordinary user runs containers (issue 16's maps and mounts); nothing here asks for resources.
  expect(tsrun(["run", "--bundle", probe, "probe"])).toMatchObject({ status: 0, stderr: "" });
}, 120_000);

afterAll(async () => {
  const left: string[] = [];
  if (u) {
    const root = join(u.runtimeDir, "tsrun");
    if (existsSync(root)) {
      for (const id of readdirSync(root)) {
        left.push(`container ${id}`);
        tsrun(["delete", "--force", id]);
      }
    }
    left.push(...u.remove());
  }
  expect(left).toEqual([]);
}, 120_000);

/** Exactly one line on stderr, non-zero status. */
function oneLine(r: AsUserResult, status: number, line: RegExp | string): void {
  expect({ status: r.status, lines: r.stderr.split("\n").length }).toEqual({ status, lines: 2 });
  if (typeof line === "string") expect(r.stderr).toBe(line);
  else expect(r.stderr).toMatch(line);
}

describe("nothing writable: the cgroup trees are root's", () => {
  test("no resources: it runs with no cgroup of its own, in the caller's; the verbs that need one say why; kill --all and delete end it", () => {
    const id = "rl-none";
    const dir = bundle(["sleep", "1000"]);
    const r = tsrun(["--debug", "run", "--detach", "--bundle", dir, id]);
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
    expect(r.stderr).toMatch(/no cgroup of its own, the container stays in the caller's: rootless: \S+ is not writable by uid \d+/);
    expect(record(id).cgroupPath).toBe("");
    const pid = record(id).pid as number;
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toBe(OWN_CGROUPS);
    // exec: the process stays in the caller's cgroup too, as the init did.
    const pidFile = join(u.home, "exec.pid");
    expect(tsrun(["exec", "--detach", "--pid-file", pidFile, id, "sleep", "999"])).toMatchObject({ status: 0, stderr: "" });
    const execPid = Number(readFileSync(pidFile, "utf8"));
    expect(readFileSync(`/proc/${execPid}/cgroup`, "utf8")).toBe(OWN_CGROUPS);

    const refusals: [string[], number, string][] = [
      [["pause", id], 1, `tsrun: cannot pause container ${id}: `],
      [["ps", id], 1, `tsrun: cannot list the processes of container ${id}: `],
      [["ps", "--format", "json", id], 1, `tsrun: cannot list the processes of container ${id}: `],
      [["events", "--stats", id], 1, `tsrun: cannot get the events of container ${id}: `],
      [["events", id], 1, `tsrun: cannot get the events of container ${id}: `],
      [["update", "--memory", "64m", id], 1, `tsrun: cannot update container ${id}: `],
      [["exec", "--cgroup", "sub", id, "true"], 255, `tsrun: cannot exec --cgroup into container ${id}: `],
    ];
    for (const [args, status, start] of refusals) {
      const v = tsrun(args);
      oneLine(v, status, NO_CGROUP_LINE);
      expect(v.stderr.startsWith(start)).toBe(true);
    }
    // resume: the status rule comes first (it cannot have been paused).
    oneLine(tsrun(["resume", id]), 1, `tsrun: cannot resume container ${id}: container not paused (it is running)\n`);
    expect(statusOf(id)).toBe("running");

    // kill --all: the init (runc 1.1.5 fails here: "lstat : no such file or directory"); its pid
    // namespace takes the exec'd process with it.
    expect(tsrun(["kill", "--all", id, "KILL"])).toMatchObject({ status: 0, stderr: "" });
    waitFor(() => (statusOf(id) === "stopped" ? true : undefined), 10_000);
    waitFor(() => (!existsSync(`/proc/${execPid}`) || /\) Z /.test(readFileSync(`/proc/${execPid}/stat`, "utf8")) ? true : undefined), 10_000);
    // What containerd's shim sends after every exit: nothing left, success.
    expect(tsrun(["kill", "--all", id, "KILL"])).toMatchObject({ status: 0, stderr: "" });
    expect(tsrun(["delete", id])).toMatchObject({ status: 0, stderr: "" });
    expect(existsSync(stateDir(id))).toBe(false);
  });

  test("delete --force of a running container with no cgroup of its own", () => {
    const id = "rl-force";
    expect(tsrun(["run", "--detach", "--bundle", bundle(["sleep", "1000"]), id])).toMatchObject({ status: 0, stderr: "" });
    const pid = record(id).pid as number;
    expect(tsrun(["delete", "--force", id])).toMatchObject({ status: 0, stderr: "" });
    expect(existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))).toBe(false);
    expect(existsSync(stateDir(id))).toBe(false);
  });

  test.each([
    [{ memory: { limit: 64 << 20 } }, "/linux/resources/memory/limit"],
    [{ pids: { limit: 32 } }, "/linux/resources/pids/limit"],
  ])("resources %j: refused in one line naming %s, the cgroup and the uid; nothing made", (resources, field) => {
    const id = `rl-res${n}`;
    const dir = bundle(["true"], (c) => (c.linux.resources = resources));
    const line = new RegExp(
      `^tsrun: config.json ${field}: needs a cgroup of the container's own, and cgroup \\S+ cannot be made: \\S+ is not writable by uid ${callerUid} \\(.*\\); ` +
        "limits need a cgroup v2 subtree delegated to you \\(a directory chowned to you with the files listed in /sys/kernel/cgroup/delegate, or systemd's user@.service delegation\\), named in linux.cgroupsPath\\n$",
    );
    oneLine(tsrun(["run", "--bundle", dir, id]), 1, line);
    expect(existsSync(stateDir(id))).toBe(false);
    // The dry run says the same, as the user.
    oneLine(tsrun(["create", "--dry-run", "--bundle", dir, id]), 1, line);
  });

  test("dry run without resources: the plan says there is no cgroup of its own", () => {
    const r = tsrun(["create", "--dry-run", "--bundle", bundle(["true"]), "rl-dry"]);
    expect(r).toMatchObject({ status: 0, stderr: "" });
    expect(r.stdout).toMatch(/no cgroup of its own: the container stays in the caller's cgroup \(\S+ cannot be made: rootless: \S+ is not writable by uid \d+/);
    expect(r.stdout).toMatch(/the rules below are not enforced: no cgroup of its own/);
    expect(r.stdout).not.toMatch(/create cgroup directory/);
  });

  test("a linux.cgroupsPath it cannot make, no resources: one warning, and no cgroup of its own", () => {
    const id = "rl-named";
    const r = tsrun(["run", "--detach", "--bundle", bundle(["sleep", "1000"], (c) => (c.linux.cgroupsPath = "/tsrt-not-mine/c")), id]);
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
    expect(r.stderr).toMatch(/^tsrun: warning: linux.cgroupsPath \/tsrt-not-mine\/c not used: rootless: \S+ is not writable by uid \d+ \(.*\); the container has no cgroup of its own\n$/);
    expect(record(id).cgroupPath).toBe("");
    expect(tsrun(["delete", "--force", id]).status).toBe(0);
  });
});

/** A cgroup v2 directory delegated to the user as the consh talk does it, with a leaf for the user's own
 *  processes (the kernel moves a process only for one who may write the common ancestor's cgroup.procs). */
function delegate(name: string): { path: string; dir: string; leaf: string; remove: () => void } {
  const path = `/${name}-${process.pid}`;
  const dir = join(V2_MOUNT!, path);
  const leaf = join(dir, "leaf");
  writeFileSync(join(V2_MOUNT!, "cgroup.subtree_control"), "+cpu +memory +pids");
  mkdirSync(leaf, { recursive: true });
  const files = readFileSync("/sys/kernel/cgroup/delegate", "utf8").split("\n").filter(Boolean);
  for (const d of [dir, leaf]) {
    const r = spawnSync("chown", [`${u.uid}:${u.gid}`, d, ...files.map((f) => join(d, f)).filter((f) => existsSync(f))], { encoding: "utf8" });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  }
  return { path, dir, leaf, remove: () => removeTree(dir) };
}

/** Kill what is left in a cgroup tree and remove it, children first. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
  } catch {
    for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) spawnSync("kill", ["-9", p]);
  }
  waitFor(() => (readFileSync(join(dir, "cgroup.procs"), "utf8").trim() === "" ? true : undefined), 10_000);
  rmdirSync(dir);
}

const usageUsec = (dir: string) => Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(dir, "cpu.stat"), "utf8"))![1]);

/** CPU time the cgroup used over `ms` of wall time, as a fraction of one CPU. */
function cpuShare(dir: string, ms: number): number {
  const u0 = usageUsec(dir);
  const t0 = process.hrtime.bigint();
  spawnSync("sleep", [String(ms / 1000)]);
  const u1 = usageUsec(dir);
  const t1 = process.hrtime.bigint();
  return (u1 - u0) / (Number(t1 - t0) / 1000);
}

describe("a cgroup v2 subtree delegated to the user", () => {
  if (!V2) {
    test("this host cannot delegate one (what could not be checked here)", () => {
      // A hybrid or legacy host limits with v1 controllers, whose trees are root's; its cgroup2 mount (if
      // any) has none of cpu, memory, pids to hand over.
      const offered = V2_MOUNT ? readFileSync(join(V2_MOUNT, "cgroup.controllers"), "utf8").trim().split(/\s+/) : [];
      expect(offered.filter((c) => ["cpu", "memory", "pids"].includes(c))).toEqual([]);
      expect(HIERARCHIES.some((h) => h.version === 1 && h.controllers.split(",").includes("memory"))).toBe(true);
      console.log(
        `cgroup-rootless: this host is ${HIERARCHIES.some((h) => h.version === 2) ? "hybrid" : "legacy"}: the delegated cgroup v2 cases (limits, cpu.max, ` +
          "pause/resume, ps, events, update, exec, delete in the delegated subtree; the consh container's cpu.max) run in the cgroup-v2 VM only",
      );
    });
    return;
  }

  let d: ReturnType<typeof delegate>;
  beforeAll(() => {
    d = delegate("tsrt-cg");
  });
  afterAll(() => d?.remove());

  test("limits written and enforced, pause/resume, ps, events, update, exec, delete: all as the user", () => {
    const id = "rl-deleg";
    const as = { cgroup: d.leaf };
    const dir = bundle(["sh", "-c", "while :; do :; done"], (c) => (c.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 32 }, cpu: { quota: 20000, period: 100000 } }));
    const r = tsrun(["--debug", "run", "--detach", "--bundle", dir, id], as);
    if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
    expect(r.stderr).toMatch(/device cgroup rules not applied: rootless: device cgroup rules need host root/);
    // No cgroupsPath: beside the caller's own cgroup, in the parent it was delegated (runc's fs2 rule).
    const path = `${d.path}/${id}`;
    expect(record(id).cgroupPath).toBe(path);
    const cg = join(V2_MOUNT!, path);
    const pid = record(id).pid as number;
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toBe(`0::${path}\n`);
    const file = (f: string) => readFileSync(join(cg, f), "utf8").trim();
    expect({ memory: file("memory.max"), pids: file("pids.max"), cpu: file("cpu.max") }).toEqual({ memory: String(64 << 20), pids: "32", cpu: "20000 100000" });
    expect(readFileSync(join(d.dir, "cgroup.subtree_control"), "utf8").split(/\s+/)).toEqual(expect.arrayContaining(["cpu", "memory", "pids"]));
    // cpu.max holds a busy loop to 20% of a CPU.
    const share = cpuShare(cg, 3000);
    console.log(`cgroup-rootless: delegated cgroup, cpu.max 20000 100000: a busy loop used ${(share * 100).toFixed(1)}% of a CPU`);
    expect(share).toBeGreaterThan(0.05);
    expect(share).toBeLessThan(0.4);

    expect(tsrun(["pause", id], as)).toMatchObject({ status: 0, stderr: "" });
    expect(statusOf(id)).toBe("paused");
    expect(file("cgroup.freeze")).toBe("1");
    expect(cpuShare(cg, 500)).toBeLessThan(0.01);
    expect(tsrun(["resume", id], as)).toMatchObject({ status: 0, stderr: "" });
    expect(statusOf(id)).toBe("running");
    expect(cpuShare(cg, 1000)).toBeGreaterThan(0.05);

    const ps = tsrun(["ps", "--format", "json", id], as);
    expect(ps).toMatchObject({ status: 0, stderr: "" });
    expect(JSON.parse(ps.stdout)).toContain(pid);
    const ev = tsrun(["events", "--stats", id], as);
    expect(ev).toMatchObject({ status: 0, stderr: "" });
    const stats = JSON.parse(ev.stdout).data;
    expect(stats.pids.current).toBeGreaterThanOrEqual(1);
    expect(stats.pids.limit).toBe(32);
    expect(stats.memory.usage.usage).toBeGreaterThan(0);
    expect(stats.cpu.usage.total).toBeGreaterThan(0);

    expect(tsrun(["update", "--memory", "32m", "--pids-limit", "16", "--cpu-quota", "50000", id], as)).toMatchObject({ status: 0, stderr: "" });
    expect({ memory: file("memory.max"), pids: file("pids.max"), cpu: file("cpu.max") }).toEqual({ memory: String(32 << 20), pids: "16", cpu: "50000 100000" });

    const pidFile = join(u.home, "deleg-exec.pid");
    expect(tsrun(["exec", "--detach", "--pid-file", pidFile, id, "sleep", "999"], as)).toMatchObject({ status: 0, stderr: "" });
    expect(readFileSync(`/proc/${readFileSync(pidFile, "utf8")}/cgroup`, "utf8")).toBe(`0::${path}\n`);

    expect(tsrun(["delete", "--force", id], as)).toMatchObject({ status: 0, stderr: "" });
    expect(existsSync(cg)).toBe(false);
    expect(existsSync(d.dir)).toBe(true);
  });

  test("a caller outside the delegated subtree cannot move processes into it: resources refused, naming the common ancestor", () => {
    const id = "rl-outside";
    const dir = bundle(["true"], (c) => {
      c.linux.cgroupsPath = `${d.path}/${id}`;
      c.linux.resources = { pids: { limit: 8 } };
    });
    // Not moved into the leaf: its cgroup and the container's meet at the root, whose cgroup.procs is root's.
    const r = tsrun(["run", "--bundle", dir, id]);
    oneLine(r, 1, /^tsrun: config.json \/linux\/resources\/pids\/limit: needs a cgroup of the container's own, and cgroup \S+ cannot be made: \S+\/cgroup.procs is not writable by uid \d+ \(cannot move processes from \S+ to \S+ \(their common ancestor's cgroup.procs\)\);/);
    expect(existsSync(join(d.dir, id))).toBe(false);
  });
});

describe("the consh seed (bundles/consh), as the user", () => {
  const setup = join(TOP, "bundles", "consh", "setup.sh");
  const capLast = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8"));
  const allCaps = ((1n << BigInt(capLast + 1)) - 1n).toString(16).padStart(16, "0");
  const lower = () => join(u.home, "consh-lower");

  /** The README's steps: the lower layer (the user's busybox tree), the bundle (setup.sh [-c CGROUP], as the user). */
  function consh(cgroup: string | undefined, edit: (c: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (!existsSync(lower())) {
      // The README's build-rootfs.sh as the user gives the same tree (it needs /dev/fd, which the VM lacks).
      cpSync(ROOTFS, lower(), { recursive: true, verbatimSymlinks: true });
      u.chown(lower());
    }
    const dir = join(u.home, `consh${n++}`);
    expect(u.run(setup, [...(cgroup ? ["-c", cgroup] : []), lower(), dir])).toMatchObject({ status: 0, stderr: "" });
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(c.linux.uidMappings).toEqual([{ containerID: 0, hostID: u.uid, size: 1 }]);
    expect(c.linux.namespaces.map((x: { type: string }) => x.type).sort()).toEqual(["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]);
    c.process.terminal = false;
    edit(c);
    writeFileSync(join(dir, "config.json"), JSON.stringify(c));
    u.chown(dir);
    return dir;
  }

  /** Run the demo (it prints what it sees and ends) as the user. */
  function demo(dir: string, as: { cgroup?: string } = {}): string {
    const r = u.run(TSRUN, ["run", "--bundle", dir, "consh"], as);
    expect(r).toMatchObject({ status: 0, stderr: "" });
    return r.stdout;
  }

  test("without -c: all seven namespaces, root mapped, pivot_root, proc/sysfs/cgroup2/mqueue, devices bound, no cgroup of its own", () => {
    const o = demo(consh(undefined));
    expect(o).toContain("shell pid:   1\n");
    expect(o).toContain("identity:    uid=0(root) gid=0(root)");
    expect(o).toContain(`uid map:     0 ${u.uid} 1`);
    expect(o).toContain("hostname:    tekapo\n");
    expect(o).toContain("cgroup:      0::/\n");
    expect(o).toContain(`capabilities: ${allCaps}\n`);
    const mounts = ["/proc=proc", "/sys=sysfs", "/sys/fs/cgroup=cgroup2", "/=overlay", "/dev=tmpfs", "/dev/mqueue=mqueue"];
    for (const m of mounts) expect(o).toContain(m);
    expect(o).toContain("devices:     full=1:7 null=1:3 random=1:8 tty=5:0 urandom=1:9 zero=1:5 \n");
    expect(o).toContain(`Creator UID: ${u.uid};`);
    // The MANIFEST went to the container's upper layer, never to the lower one.
    expect(existsSync(join(lower(), "MANIFEST"))).toBe(false);
  });

  if (!V2) {
    test("with -c on this host: refused, naming the cpu limit and the cgroup the user may not make", () => {
      const r = u.run(TSRUN, ["run", "--bundle", consh("/consh_cgrp/consh"), "consh-c"]);
      oneLine(r, 1, new RegExp(`^tsrun: config.json /linux/resources/cpu/\\w+: needs a cgroup of the container's own, and cgroup /consh_cgrp/consh cannot be made: \\S+ is not writable by uid ${u.uid} `));
    });
    return;
  }

  test("with -c in a delegated subtree: cpu.max 5000 10000 holds a busy loop to half a CPU", () => {
    const d = delegate("tsrt-consh");
    try {
      const as = { cgroup: d.leaf };
      const shown = demo(consh(`${d.path}/consh`), as);
      expect(shown).toContain("cpu.max:     5000 10000\n");
      expect(shown).toContain("cgroup:      0::/\n");
      // A busy loop, measured from outside: usage_usec over wall time.
      const busy = consh(`${d.path}/consh`, (c) => (c.process.args = ["sh", "-c", "while :; do :; done"]));
      expect(u.run(TSRUN, ["run", "--detach", "--bundle", busy, "consh-busy"], as)).toMatchObject({ status: 0, stderr: "" });
      const cg = join(V2_MOUNT!, d.path, "consh");
      expect(readFileSync(join(cg, "cpu.max"), "utf8").trim()).toBe("5000 10000");
      const share = cpuShare(cg, 3000);
      console.log(`cgroup-rootless: consh, cpu.max 5000 10000: a busy loop used ${(share * 100).toFixed(1)}% of a CPU`);
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.7);
      expect(u.run(TSRUN, ["delete", "--force", "consh-busy"])).toMatchObject({ status: 0, stderr: "" });
      expect(existsSync(cg)).toBe(false);
    } finally {
      d.remove();
    }
  });
});
