/**
 * src/plan/namespaces.ts: linux.namespaces -> clone flags, late unshares, joins.
 */
import { mapsId, NAMESPACE_FLAGS, parseIdMap, planNamespaces } from "../../src/plan/namespaces.js";
import { fieldOf } from "../helpers/config-error.js";

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
const CLONE_NEWTIME = 0x00000080;


describe("planNamespaces", () => {
  test("flags are the kernel's CLONE_NEW* values", () => {
    expect(NAMESPACE_FLAGS).toEqual({
      mount: CLONE_NEWNS, cgroup: CLONE_NEWCGROUP, uts: CLONE_NEWUTS, ipc: CLONE_NEWIPC,
      user: CLONE_NEWUSER, pid: CLONE_NEWPID, network: CLONE_NEWNET, time: CLONE_NEWTIME,
    });
  });

  test("new namespaces: cgroup and time are unshared late, the rest are clone flags", () => {
    const p = planNamespaces(["pid", "network", "ipc", "uts", "mount", "cgroup", "time", "user"].map((type) => ({ type })));
    expect(p.cloneFlags).toBe(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWUSER);
    expect(p.lateUnshare).toBe(CLONE_NEWCGROUP | CLONE_NEWTIME);
    expect(p.join).toEqual([]);
    expect(p.newUser).toBe(true);
    expect([...p.types].sort()).toEqual(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]);
  });

  test("no namespaces at all", () => {
    const p = planNamespaces(undefined);
    expect(p.cloneFlags).toBe(0);
    expect(p.lateUnshare).toBe(0);
    expect(p.newUser).toBe(false);
    expect(p.types.size).toBe(0);
  });

  test("a namespace with a path is joined, not created", () => {
    const p = planNamespaces([{ type: "network", path: "/var/run/netns/x" }, { type: "mount" }, { type: "cgroup", path: "/proc/9/ns/cgroup" }]);
    expect(p.cloneFlags).toBe(CLONE_NEWNS);
    expect(p.lateUnshare).toBe(0);
    expect(p.join).toEqual([
      { type: "network", flag: CLONE_NEWNET, path: "/var/run/netns/x" },
      { type: "cgroup", flag: CLONE_NEWCGROUP, path: "/proc/9/ns/cgroup" },
    ]);
    expect(p.types.has("network")).toBe(true);
  });

  test("joining a user namespace is not a new user namespace", () => {
    const p = planNamespaces([{ type: "user", path: "/proc/1/ns/user" }, { type: "mount" }]);
    expect(p.newUser).toBe(false);
    expect(p.types.has("user")).toBe(true);
  });

  test("joins are ordered user first, mount last, whatever the config order", () => {
    const types = ["mount", "time", "cgroup", "pid", "network", "uts", "ipc", "user"];
    const p = planNamespaces(types.map((type) => ({ type, path: `/proc/42/ns/${type}` })));
    expect(p.join.map((j) => j.type)).toEqual(["user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"]);
    expect(p.join.every((j) => j.path === `/proc/42/ns/${j.type}`)).toBe(true);
    expect(p.cloneFlags).toBe(0);
  });

  test("an unknown type is refused with its path", () => {
    expect(fieldOf(() => planNamespaces([{ type: "mount" }, { type: "net" }]))).toBe("/linux/namespaces/1/type");
  });

  test("a type listed twice is refused with the second entry's path", () => {
    expect(fieldOf(() => planNamespaces([{ type: "pid" }, { type: "mount" }, { type: "pid", path: "/proc/1/ns/pid" }]))).toBe("/linux/namespaces/2/type");
  });
});

describe("id maps as /proc/<pid>/uid_map shows them", () => {
  test("parsed line by line; whether an id is mapped", () => {
    const m = parseIdMap("         0     100000      65536\n    65536      5000          1\n");
    expect(m).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }, { containerID: 65536, hostID: 5000, size: 1 }]);
    expect(mapsId(m, 0)).toBe(true);
    expect(mapsId(m, 65536)).toBe(true);
    expect(mapsId(m, 65537)).toBe(false);
    expect(mapsId(parseIdMap("      1000       1000          1\n"), 0)).toBe(false);
    expect(parseIdMap("")).toEqual([]);
  });
});
