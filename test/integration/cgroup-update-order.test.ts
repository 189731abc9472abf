// `update` of limits whose files the kernel checks against each other at every write, side by side
// with runc 1.1.5 on this host's layout: memory and memory+swap raised, lowered and made unlimited
// (v1 keeps limit <= memsw at each step), and CPU period and quota changed under a parent with a
// quota of its own (v1 checks quota/period against the parent's at each write). Each step must
// succeed or fail as under runc and leave the same values. Runs in the v2 VM too.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LAYOUT, V2, V2_MOUNT, cgroupDir, differentialSetup, readCgroup, writeCgroup } from "../helpers/cgroups.js";

const { s, rc, ownPath, runcId } = differentialSetup();

/** One container under tsrun and one under runc, each in its own cgroup below `parent`. */
function pair(name: string, parent: string, resources: object): { ours: string; theirs: string; ourPath: string; theirPath: string } {
  const ourPath = `${parent}/tsrun`;
  const theirPath = `${parent}/runc`;
  const bundle = (path: string) =>
    s.bundle((c) => {
      c.process.args = ["sleep", "300"];
      c.linux.cgroupsPath = path;
      c.linux.resources = { ...c.linux.resources, ...resources };
    });
  const ours = s.id(name);
  const theirs = runcId(`runc-${ours}`);
  const t = s.tsrun(["run", "-d", "--bundle", bundle(ourPath), ours]);
  expect(t.stderr).toBe("");
  expect(t.status).toBe(0);
  expect(rc.run(["run", "-d", "--bundle", bundle(theirPath), theirs], { detached: true, cwd: s.dir }).status).toBe(0);
  return { ours, theirs, ourPath, theirPath };
}

/** Run the same update on both; the exit statuses and then `files` must be the same. */
function sameUpdate(p: ReturnType<typeof pair>, flags: string[], controller: string, files: string[]): { status: number | null; values: string[] } {
  const r = rc.run(["update", ...flags, p.theirs]);
  const t = s.tsrun(["update", ...flags, p.ours]);
  const label = `update ${flags.join(" ")}`;
  expect([label, t.status]).toEqual([label, r.status]);
  if (t.status === 0) expect([label, t.stderr]).toEqual([label, ""]);
  const values = files.map((f) => readCgroup(controller, p.ourPath, f));
  expect([label, values]).toEqual([label, files.map((f) => readCgroup(controller, p.theirPath, f))]);
  return { status: t.status, values };
}

const MiB = 1 << 20;

test(`memory and swap: raised, lowered and unlimited in every order, as runc (${LAYOUT})`, () => {
  // As runc's update.bats: memory+swap is limited on v2 always, on v1 only with swap accounting.
  const swap = V2 || existsSync(join(cgroupDir("memory", "/"), "memory.memsw.limit_in_bytes"));
  const files = V2 ? ["memory.max", "memory.swap.max"] : ["memory.limit_in_bytes", ...(swap ? ["memory.memsw.limit_in_bytes"] : [])];
  const p = pair("mem", ownPath("mem"), { memory: { limit: 32 * MiB, reservation: 24 * MiB } });
  const steps: string[][] = [
    ...(swap ? [["--memory-swap", "-1"], ["--memory", "50M", "--memory-swap", "92M"]] : []),
    ["--memory", "-1"], // with a swap limit in force: both become unlimited
    ...(swap ? [["--memory", "30M", "--memory-swap", "50M"], ["--memory", "60M", "--memory-swap", "80M"], ["--memory", "20M", "--memory-swap", "40M"]] : []),
    ["--memory", "-1"],
    ["--memory", "64M"],
  ];
  const seen = steps.map((flags) => sameUpdate(p, flags, "memory", files));
  expect(seen.every((x) => x.status === 0)).toBe(true);
  if (!swap) console.log("v1 host without swap accounting (no memory.memsw.*): the swap steps were not run");
  // The last steps: unlimited, then a limit of 64M with the swap limit still lifted.
  expect(seen.at(-1)!.values[0]).toBe(String(64 * MiB));
  if (swap) expect(seen.at(-1)!.values[1]).toBe(V2 ? "max" : seen.at(-2)!.values[0]);
});

test(`CPU period and quota under a parent with its own quota, both directions, as runc (${LAYOUT})`, () => {
  const parent = ownPath("cpu");
  mkdirSync(cgroupDir("cpu", parent), { recursive: true });
  if (V2) {
    // The parent's cpu.max exists once its own parent enables the controller.
    writeFileSync(join(V2_MOUNT!, "cgroup.subtree_control"), "+cpu");
    writeCgroup("cpu", parent, "cpu.max", "50000 100000");
  } else {
    writeCgroup("cpu", parent, "cpu.cfs_quota_us", "50000");
  }
  const files = V2 ? ["cpu.max"] : ["cpu.cfs_period_us", "cpu.cfs_quota_us"];
  const p = pair("cpu", parent, { cpu: { quota: 40000, period: 100000 } });
  const steps: [string[], number][] = [
    // 0.4 of a CPU either way; on v1 the period must go after the quota (40000/50000 is above 0.5)...
    [["--cpu-period", "50000", "--cpu-quota", "20000"], 0],
    // ...and back, before it (40000/50000 again).
    [["--cpu-period", "100000", "--cpu-quota", "40000"], 0],
    // 40000/25000 is above the parent's 0.5: v1 refuses it (v2 clamps it to the parent's instead).
    [["--cpu-period", "25000"], V2 ? 0 : 1],
    [["--cpu-quota", "-1", "--cpu-period", "200000"], 0],
  ];
  for (const [flags, status] of steps) expect(sameUpdate(p, flags, "cpu", files).status).toBe(status);
  expect(readCgroup("cpu", p.ourPath, files[0])).toBe(V2 ? "max 200000" : "200000");
});
