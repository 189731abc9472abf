/**
 * src/cgroups/cgroup-kill.ts: kill --all KILL and delete write "1" to cgroup v2's cgroup.kill where the
 * kernel has it, and fall back to signalling pids where it does not. The files here are a stand-in
 * directory tree (a plain file takes the write as cgroup.kill would); the kernel's side is tested by
 * test/integration/runc-flags.test.ts.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { writeCgroupKill } from "../../src/cgroups/cgroup-kill.js";
import { NO_CGROUP, cgroupMembers } from "../../src/cgroups/members.js";

let root: string;
let v1: CgroupHierarchy;
let v2: CgroupHierarchy;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "tsrun-cgroup-kill-"));
  v1 = { mountPoint: join(root, "cpu"), version: 1, controllers: "cpu" };
  v2 = { mountPoint: join(root, "unified"), version: 2, controllers: "" };
  for (const h of [v1, v2]) mkdirSync(join(h.mountPoint, "tsrun", "c1"), { recursive: true });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const killFile = (id: string) => join(v2.mountPoint, "tsrun", id, "cgroup.kill");

test("a kernel with cgroup.kill (5.14+): one write of 1 in the v2 directory, also on a hybrid host", () => {
  writeFileSync(killFile("c1"), "");
  expect(writeCgroupKill("/tsrun/c1", [v1, v2])).toBe(true);
  expect(readFileSync(killFile("c1"), "utf8")).toBe("1");
  writeFileSync(killFile("c1"), "");
  expect(cgroupMembers("/tsrun/c1", [v1, v2]).killAll()).toBe(true);
  expect(readFileSync(killFile("c1"), "utf8")).toBe("1");
});

test("no cgroup.kill (an older kernel), no v2 hierarchy, no such cgroup, no cgroup of its own: false, nothing made", () => {
  mkdirSync(join(v2.mountPoint, "tsrun", "old"), { recursive: true });
  expect(writeCgroupKill("/tsrun/old", [v1, v2])).toBe(false);
  expect(existsSync(killFile("old"))).toBe(false);
  expect(writeCgroupKill("/tsrun/c1", [v1])).toBe(false);
  expect(writeCgroupKill("/tsrun/gone", [v1, v2])).toBe(false);
  expect(existsSync(join(v2.mountPoint, "tsrun", "gone"))).toBe(false);
  expect(cgroupMembers(NO_CGROUP, [v1, v2]).killAll()).toBe(false);
});

test("never the hierarchy root, which holds the host", () => {
  writeFileSync(join(v2.mountPoint, "cgroup.kill"), "");
  expect(writeCgroupKill("/", [v2])).toBe(false);
  expect(writeCgroupKill("", [v2])).toBe(false);
  expect(readFileSync(join(v2.mountPoint, "cgroup.kill"), "utf8")).toBe("");
});
