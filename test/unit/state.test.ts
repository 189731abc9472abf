/**
 * src/state: live status, /proc/<pid>/stat parsing, container ids.
 */
import { UsageError } from "../../src/errors.js";
import { parseProcStat } from "../../src/state/proc.js";
import { type StatusProbe, deriveStatus } from "../../src/state/status.js";
import { type ContainerRecord, StateStore, checkId } from "../../src/state/store.js";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readProcStat } from "../../src/state/proc.js";

const base: StatusProbe = { recorded: "created", initAlive: true, creatorAlive: false, fifoExists: true, frozen: false };

describe("deriveStatus", () => {
  test("creating: creating while the creator lives, stopped once it is gone", () => {
    expect(deriveStatus({ ...base, recorded: "creating", initAlive: false, creatorAlive: true, fifoExists: false })).toBe("creating");
    expect(deriveStatus({ ...base, recorded: "creating", initAlive: false, creatorAlive: false })).toBe("stopped");
    // an init already running does not keep a create whose creator died alive
    expect(deriveStatus({ ...base, recorded: "creating", initAlive: true, creatorAlive: false })).toBe("stopped");
  });

  test.each(["created", "running", "paused", "stopped"] as const)("recorded %s with a dead init is stopped", (recorded) => {
    for (const fifoExists of [true, false]) for (const frozen of [true, false]) {
      expect(deriveStatus({ ...base, recorded, initAlive: false, fifoExists, frozen })).toBe("stopped");
    }
  });

  test("a live, frozen init is paused (fifo or not)", () => {
    expect(deriveStatus({ ...base, recorded: "running", frozen: true, fifoExists: false })).toBe("paused");
    expect(deriveStatus({ ...base, recorded: "created", frozen: true, fifoExists: true })).toBe("paused");
  });

  test("a live init with the exec fifo still there is created", () => {
    expect(deriveStatus({ ...base, recorded: "created", fifoExists: true })).toBe("created");
  });

  test("lookups are made only when the status depends on them", () => {
    const never = () => {
      throw new Error("looked up needlessly");
    };
    expect(deriveStatus({ recorded: "created", initAlive: () => true, creatorAlive: never, fifoExists: () => true, frozen: () => false })).toBe("created");
    expect(deriveStatus({ recorded: "running", initAlive: () => false, creatorAlive: never, fifoExists: never, frozen: never })).toBe("stopped");
    expect(deriveStatus({ recorded: "creating", initAlive: never, creatorAlive: () => true, fifoExists: never, frozen: never })).toBe("creating");
    expect(deriveStatus({ recorded: "running", initAlive: () => true, creatorAlive: never, fifoExists: never, frozen: () => true })).toBe("paused");
  });

  test("a live init without the fifo is running, whatever was recorded", () => {
    expect(deriveStatus({ ...base, recorded: "created", fifoExists: false })).toBe("running");
    expect(deriveStatus({ ...base, recorded: "running", fifoExists: false })).toBe("running");
    expect(deriveStatus({ ...base, recorded: "paused", fifoExists: false })).toBe("running");
  });
});

describe("StateStore.status", () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), "tsrun-state-"))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  // This test's own process stands in for a live init.
  const rec = (over: Partial<ContainerRecord>): ContainerRecord => ({
    ociVersion: "1.2.0", id: "c", bundle: "", rootfs: "", created: "", owner: "root", annotations: {}, status: "created",
    pid: process.pid, pidStartTime: readProcStat(process.pid)!.startTime, creatorPid: 0, creatorStartTime: 0,
    cgroupPath: "/no/such/cgroup", cgroupCreated: [], hasProcess: true, ...over,
  });

  test("paused comes from the caller's frozen lookup, not from the cgroup the record names", () => {
    const store = new StateStore(root);
    mkdirSync(store.dir("c"));
    writeFileSync(store.fifoPath("c"), "");
    expect(store.status(rec({}), () => true)).toBe("paused");
    expect(store.status(rec({}), () => false)).toBe("created");
    rmSync(store.fifoPath("c"));
    expect(store.status(rec({}), () => false)).toBe("running");
  });

  test("the lookup is not made for a container whose init is gone", () => {
    const store = new StateStore(root);
    const never = () => {
      throw new Error("looked up needlessly");
    };
    expect(store.status(rec({ pidStartTime: 1 }), never)).toBe("stopped");
    expect(store.status(rec({ status: "creating", pid: 0 }), never)).toBe("stopped");
  });
});

/** A /proc/<pid>/stat line with the given comm, state and starttime (field 22). */
function statLine(pid: number, comm: string, state: string, start: number): string {
  const after = [state, "1", String(pid), String(pid), "0", "-1", "4194560", "100", "0", "0", "0", "1", "2", "0", "0", "20", "0", "1", "0", String(start), "1000", "50"];
  return `${pid} (${comm}) ${after.join(" ")} 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n`;
}

describe("parseProcStat", () => {
  test("a plain line", () => {
    expect(parseProcStat(statLine(1234, "sh", "S", 987654))).toEqual({ state: "S", startTime: 987654 });
  });

  test("a real line from this kernel", () => {
    const line = "1 (systemd) S 0 1 1 0 -1 4194560 55519 11036617 128 2618 165 152 23468 6524 20 0 1 0 30 172576768 3284 18446744073709551615 1 1 0 0 0 0 671173123 4096 1260 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
    expect(parseProcStat(line)).toEqual({ state: "S", startTime: 30 });
  });

  test("a command name with spaces and parentheses", () => {
    expect(parseProcStat(statLine(1234, "a b) c", "S", 555))).toEqual({ state: "S", startTime: 555 });
    expect(parseProcStat(statLine(7, ") ) (", "Z", 42))).toEqual({ state: "Z", startTime: 42 });
    expect(parseProcStat(statLine(7, "x) R 1 2 3", "D", 77))).toEqual({ state: "D", startTime: 77 });
  });

  test("garbage is null", () => {
    expect(parseProcStat("")).toBeNull();
    expect(parseProcStat("1234 no parens S 1")).toBeNull();
    expect(parseProcStat("1234 (sh) S 1 2")).toBeNull();
  });
});

describe("checkId", () => {
  test.each(["c1", "abc_DEF-1.2+3", "a".repeat(64), "0123456789abcdef".repeat(4), "x.y", "..."])("%s is valid", (id) => {
    expect(checkId(id)).toBe(id);
  });

  test.each([undefined, "", ".", "..", "a/b", "/abs", "../up", "a b", "a:b", "é", "a\nb", "a*", "x".repeat(256), "x".repeat(1025)])("%p is refused", (id) => {
    expect(() => checkId(id)).toThrow(UsageError);
  });
});
