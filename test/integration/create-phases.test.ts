// create plans before it acts: a config error of any class fails `tsrun create` with the field named, and
// nothing was made at any time (no state dir, no cgroup, no link, no mount), not even for an instant and
// rolled back. Watched while create runs: inotify on the state root and on each cgroup hierarchy's root
// (the container's cgroup path is under a parent of this file's own), `ip monitor link`, and mountinfo
// before and after.
import { type ChildProcess, spawn } from "node:child_process";
import { type FSWatcher, closeSync, mkdirSync, openSync, readFileSync, watch } from "node:fs";
import { join } from "node:path";
import { hostVethName } from "../../src/network/plan.js";
import { HIERARCHIES, removeCgroupPath } from "../helpers/cgroups.js";
import { IP } from "../helpers/host.js";
import { Scratch, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
// The containers' cgroups go under this parent in every hierarchy: its name in a hierarchy's root is
// this file's alone (other tests make /tsrun/<id> there at the same time).
const PARENT = `tsrun-phases-${process.pid}`;
const BRIDGE = `tsph${process.pid % 1_000_000}`;
beforeAll(() => {
  ensureBuilt();
  mkdirSync(s.root, { recursive: true });
});
afterAll(() => {
  expect(s.cleanup()).toEqual([]);
  removeCgroupPath(`/${PARENT}/x`);
});

/** Everything seen while a call ran: names made in the watched dirs, link events naming ours. */
class Watch {
  readonly seen: string[] = [];
  private readonly watchers: FSWatcher[] = [];
  private monitor?: ChildProcess;
  private monitorText = "";
  private readonly mountsBefore: string[];

  constructor(private readonly names: readonly string[]) {
    this.mountsBefore = this.ourMounts();
    // rename: a name appeared or went in the directory (mkdir and rmdir included, on cgroupfs too).
    this.watchers.push(watch(s.root, (_e, f) => this.seen.push(`state root: ${f}`)));
    for (const h of HIERARCHIES) {
      this.watchers.push(watch(h.mountPoint, (_e, f) => f === PARENT && this.seen.push(`cgroup ${h.mountPoint}/${f}`)));
    }
  }

  /** `ip monitor link` runs from before the call: the links it reports are checked for our names. */
  async startMonitor(): Promise<void> {
    const m = spawn(IP, ["-o", "monitor", "link"], { stdio: ["ignore", "pipe", "ignore"] });
    this.monitor = m;
    m.stdout!.on("data", (d: Buffer) => (this.monitorText += d.toString()));
    await new Promise((r) => m.once("spawn", r));
    // ip has subscribed once it is running; give it a moment to bind its netlink socket.
    await new Promise((r) => setTimeout(r, 200));
  }

  private ourMounts(): string[] {
    return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(s.dir) || this.names.some((n) => l.includes(n)));
  }

  async stop(): Promise<string[]> {
    // Let queued inotify events and monitor lines arrive.
    await new Promise((r) => setTimeout(r, 300));
    for (const w of this.watchers) w.close();
    if (this.monitor) {
      const gone = new Promise((r) => this.monitor!.once("exit", r));
      this.monitor.kill();
      await gone;
      for (const line of this.monitorText.split("\n")) if (this.names.some((n) => line.includes(n))) this.seen.push(`link: ${line}`);
    }
    const after = this.ourMounts();
    for (const l of after) if (!this.mountsBefore.includes(l)) this.seen.push(`mount: ${l}`);
    return this.seen;
  }
}

/** bin/tsrun create, run asynchronously so the watchers see events while it runs. Its stderr goes to a
 *  file: a created container keeps the create's stdio, and a pipe would stay open until it exits. */
function create(id: string, bundle: string): Promise<{ status: number | null; stderr: string }> {
  const errFile = join(s.dir, `create-${id}.err`);
  const fd = openSync(errFile, "w");
  return new Promise((res) => {
    const p = spawn(TSRUN, ["--root", s.root, "create", "--bundle", bundle, id], { env: {}, cwd: s.dir, stdio: ["ignore", "ignore", fd] });
    p.on("exit", (status) => {
      closeSync(fd);
      res({ status, stderr: readFileSync(errFile, "utf8") });
    });
  });
}

const withoutNs = (c: any, type: string) => (c.linux.namespaces = c.linux.namespaces.filter((x: any) => x.type !== type));

// [class, edit, the field the one-line error names]. Each is found by the planner, past the schema
// validator: before create had two phases, each of these was found only after the state dir, the cgroup
// (and for the network the address lease) had been made, then rolled back.
const BAD: [string, (c: any) => void, string][] = [
  ["seccomp", (c) => (c.linux.seccomp = { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_NOPE"] }), "/linux/seccomp/architectures/0"],
  ["sysctl", (c) => (c.linux.sysctl = { "kernel.panic": "1" }), "/linux/sysctl/kernel.panic"],
  ["capability", (c) => (c.process.capabilities.bounding = ["CAP_NOPE"]), "/process/capabilities/bounding/0"],
  ["rlimit", (c) => (c.process.rlimits = [{ type: "RLIMIT_NOFILE", hard: 2_000_000_000, soft: 1024 }]), "/process/rlimits/0/hard"],
  ["namespace", (c) => withoutNs(c, "mount"), "/linux/maskedPaths"],
  ["mounts", (c) => c.mounts.push({ destination: "/x", type: "tmpfs", source: "tmpfs", options: ["bogusopt"] }), "/mounts/7/options/0"],
  ["personality", (c) => (c.linux.personality = { domain: "LINUX", flags: ["X"] }), "/linux/personality/flags/0"],
  ["network", (c) => (c.tsrun = { network: { bridge: BRIDGE, subnet: "10.231.0.0/24", interfaces: [{ name: "eth0", addresses: ["10.232.0.2/24"] }] } }), "/tsrun/network/interfaces/0/addresses/0"],
];

function bundle(id: string, edit: (c: any) => void): string {
  return s.bundle((c) => {
    c.linux.cgroupsPath = `/${PARENT}/${id}`;
    c.linux.resources = { ...c.linux.resources, pids: { limit: 32 } };
    edit(c);
  });
}

test.each(BAD)("a bad %s setting: create fails naming the field, and nothing appeared at any time", async (_what, edit, field) => {
  const id = s.id("bad");
  const b = bundle(id, edit);
  const w = new Watch([id, BRIDGE, hostVethName(id, 0)]);
  await w.startMonitor();
  const r = await create(id, b);
  const seen = await w.stop();
  expect(r.status).not.toBe(0);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain(`config.json ${field}: `);
  expect(seen).toEqual([]);
});

test("the watchers see what a valid create makes (the checks above are not blind)", async () => {
  const id = s.id("good");
  const b = bundle(id, (c) => (c.process.args = ["sh", "-c", "sleep 100"]));
  const w = new Watch([id]);
  const r = await create(id, b);
  const seen = await w.stop();
  expect(r.status).toBe(0);
  expect(seen).toEqual(expect.arrayContaining([`state root: ${id}`, ...HIERARCHIES.map((h) => `cgroup ${h.mountPoint}/${PARENT}`)]));
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});
