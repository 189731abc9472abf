// Rootless: who the caller is (runc's two senses), where its state goes, and how its id maps are
// written. Pure functions, no root needed.
import { ConfigError, HostError, UsageError } from "../../src/errors.js";
import { planIdMaps } from "../../src/plan/id-maps.js";
import { decideRootless, parseRootlessFlag, userNsMapsHostRoot } from "../../src/security/rootless.js";
import { type IdMapFacts, parseSubIds } from "../../src/security/subids.js";
import { DEFAULT_ROOT, defaultStateRoot } from "../../src/state/root.js";

describe("rootless mode", () => {
  test("auto: a non-root euid is rootless in both senses; host root in neither", () => {
    expect(decideRootless("auto", 1500, 1500, null)).toEqual({ euid: 1500, egid: 1500, nonRootEuid: true, cgroups: true });
    expect(decideRootless("auto", 0, 0, null)).toEqual({ euid: 0, egid: 0, nonRootEuid: false, cgroups: false });
  });
  test("auto: root in a user namespace that does not map host root (rootless podman) has rootless cgroups", () => {
    expect(decideRootless("auto", 0, 0, false)).toMatchObject({ nonRootEuid: false, cgroups: true });
    expect(decideRootless("auto", 0, 0, true)).toMatchObject({ nonRootEuid: false, cgroups: false });
  });
  test("--rootless true/false overrides the cgroup sense, never the euid", () => {
    expect(decideRootless("true", 0, 0, null)).toMatchObject({ nonRootEuid: false, cgroups: true });
    expect(decideRootless("false", 1500, 1500, null)).toMatchObject({ nonRootEuid: true, cgroups: false });
  });
  test("the flag takes runc's values and refuses others", () => {
    expect(parseRootlessFlag("auto")).toBe("auto");
    expect(parseRootlessFlag("TRUE")).toBe("true");
    expect(parseRootlessFlag("0")).toBe("false");
    expect(() => parseRootlessFlag("maybe")).toThrow(UsageError);
  });
  test("uid_map: the initial namespace, one mapping host root, one that does not", () => {
    expect(userNsMapsHostRoot("         0          0 4294967295\n")).toBeNull();
    expect(userNsMapsHostRoot("0 1000 1\n1 100000 65536\n")).toBe(false);
    expect(userNsMapsHostRoot("0 0 1000\n")).toBe(true);
  });
});

describe("state root", () => {
  test("root: /run/tsrun; a user: $XDG_RUNTIME_DIR/tsrun", () => {
    expect(defaultStateRoot(0, "/run/user/0")).toBe(DEFAULT_ROOT);
    expect(defaultStateRoot(1500, "/run/user/1500")).toBe("/run/user/1500/tsrun");
  });
  test("a user without XDG_RUNTIME_DIR gets one line saying what to do", () => {
    expect(() => defaultStateRoot(1500, undefined)).toThrow(/XDG_RUNTIME_DIR is not set.*--root DIR/);
    expect(() => defaultStateRoot(1500, "")).toThrow(UsageError);
  });
});

describe("subordinate ids", () => {
  const text = "alice:100000:65536\nbob:165536:65536\n1500:300000:10\nbad line\ncarol:x:5\nalice:500000:1000\n";
  test("ranges by name and by uid; malformed lines skipped", () => {
    expect(parseSubIds(text, "alice", 1400)).toEqual([{ start: 100000, count: 65536 }, { start: 500000, count: 1000 }]);
    expect(parseSubIds(text, "dave", 1500)).toEqual([{ start: 300000, count: 10 }]);
    expect(parseSubIds(text, "carol", 1)).toEqual([]);
    expect(parseSubIds(text, undefined, 9)).toEqual([]);
  });
});

describe("id maps", () => {
  const facts: IdMapFacts = {
    euid: 1500, egid: 1600, name: "alice",
    subuids: [{ start: 100000, count: 65536 }], subgids: [{ start: 200000, count: 65536 }],
    newuidmap: "/usr/bin/newuidmap", newgidmap: "/usr/bin/newgidmap",
  };
  const m = (containerID: number, hostID: number, size: number) => ({ containerID, hostID, size });

  test("host root writes any maps itself, setgroups untouched", () => {
    const p = planIdMaps([m(0, 100000, 65536)], [m(0, 100000, 65536)]);
    expect(p).toEqual({ uid: { via: "write", text: "0 100000 65536\n" }, gid: { via: "write", text: "0 100000 65536\n" }, setgroupsDenied: false });
  });
  test("a user's own ids alone are written directly, with setgroups denied", () => {
    const p = planIdMaps([m(0, 1500, 1)], [m(0, 1600, 1)], facts);
    expect(p).toEqual({ uid: { via: "write", text: "0 1500 1\n" }, gid: { via: "write", text: "0 1600 1\n" }, setgroupsDenied: true });
  });
  test("podman's maps (own id + subordinate range) go through newuidmap/newgidmap; setgroups denied by newgidmap", () => {
    const p = planIdMaps([m(0, 1500, 1), m(1, 100000, 65536)], [m(0, 1600, 1), m(1, 200000, 65536)], facts);
    expect(p.uid).toEqual({ via: "helper", helper: "/usr/bin/newuidmap", args: ["0", "1500", "1", "1", "100000", "65536"], text: "0 1500 1\n1 100000 65536\n" });
    expect(p.gid).toMatchObject({ via: "helper", helper: "/usr/bin/newgidmap", args: ["0", "1600", "1", "1", "200000", "65536"] });
    expect(p.setgroupsDenied).toBe(true);
  });
  test("subordinate ranges alone keep setgroups allowed", () => {
    const p = planIdMaps([m(0, 100000, 65536)], [m(0, 200000, 65536)], facts);
    expect(p.setgroupsDenied).toBe(false);
    expect(p.gid.via).toBe("helper");
  });
  test("a range outside the user's subordinate ids is a ConfigError naming the entry and the ranges", () => {
    expect(() => planIdMaps([m(0, 1500, 1), m(1, 170000, 65536)], [m(0, 1600, 1)], facts)).toThrow(
      new ConfigError("/linux/uidMappings/1", "maps host uids 170000-235535, which uid 1500 (alice) may not use: only its own uid 1500 and its ranges in /etc/subuid (100000-165535)"),
    );
    expect(() => planIdMaps([m(0, 1500, 1)], [m(0, 0, 1)], facts)).toThrow(/\/linux\/gidMappings\/0: maps host gid 0, which uid 1500 \(alice\) may not use/);
  });
  test("a user with no subordinate ids is told it has none", () => {
    expect(() => planIdMaps([m(0, 1500, 1), m(1, 100000, 10)], [m(0, 1600, 1)], { ...facts, subuids: [] })).toThrow(/in \/etc\/subuid \(none\)/);
  });
  test("another user's own uid is not the caller's", () => {
    expect(() => planIdMaps([m(0, 1501, 1)], [m(0, 1600, 1)], facts)).toThrow(/uidMappings\/0: maps host uid 1501/);
  });
  test("wider maps without newuidmap installed: one line naming the package", () => {
    expect(() => planIdMaps([m(0, 100000, 10)], [m(0, 1600, 1)], { ...facts, newuidmap: undefined })).toThrow(
      new HostError("/linux/uidMappings: a map of more than your own uid needs newuidmap (Debian package uidmap), which is not installed"),
    );
  });
});
