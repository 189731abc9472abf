/**
 * src/plan/exec-request.ts: phase 1 of exec. The flags or a --process file, with what was read of the
 * container, become the process and its launch plan; every error of the request is raised here, before
 * the container is locked or anything is started. No root needed.
 */
import { cgroupDriver } from "../../src/cgroups/driver.js";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CgroupHierarchy } from "../../src/cgroups/hierarchy.js";
import { ConfigError, PathError, UsageError } from "../../src/errors.js";
import { type ExecRequest, planExec } from "../../src/plan/exec-request.js";
import { Op } from "../../src/launch/ops.js";
import type { LinuxSeccomp } from "../../src/spec/types.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const BUSYBOX = JSON.parse(readFileSync(join(repo, "bundles", "busybox", "config.json"), "utf8"));
const HYBRID: CgroupHierarchy[] = [
  { mountPoint: "/sys/fs/cgroup/cpu", version: 1, controllers: "cpu" },
  { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
  { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
];
const ALL_CAPS = (1n << 41n) - 1n;

let work: string;
let bundle: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "tsrun-exec-request-"));
  bundle = join(work, "bundle");
  mkdirSync(join(bundle, "rootfs"), { recursive: true });
  writeFileSync(join(bundle, "config.json"), JSON.stringify(BUSYBOX));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function request(flags: Partial<ExecRequest["flags"]> = {}, over: Partial<ExecRequest> = {}): ExecRequest {
  return {
    flags: { args: ["ps"], ...flags },
    container: { id: "c1", bundle, cgroupPath: "/tsrun/c1" },
    joined: { namespaces: [{ type: "pid", path: "/proc/42/ns/pid" }, { type: "mount", path: "/proc/42/ns/mnt" }], usernsRoot: false, home: () => "/root" },
    host: { cgroup: cgroupDriver("/tsrun/c1", { hierarchies: HYBRID }), hostCaps: ALL_CAPS, lastCap: 40 },
    ...over,
  };
}

function processFile(p: object): string {
  const f = join(work, `process-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(f, JSON.stringify(p));
  return f;
}

test("the config's process with the flags: HOME from the container's passwd, the cgroup join, frozen", () => {
  const plan = planExec(request({ env: ["A=1"] }));
  expect(plan.process.args).toEqual(["ps"]);
  expect(plan.process.env).toEqual(expect.arrayContaining(["A=1", "HOME=/root"]));
  expect(plan.cgroupJoin).toEqual({ cloneInto: "/sys/fs/cgroup/unified/tsrun/c1", selfTasks: ["/sys/fs/cgroup/cpu/tsrun/c1/tasks", "/sys/fs/cgroup/memory/tsrun/c1/tasks"], parentJoins: [] });
  expect(plan.detach).toBe(false);
  expect(plan.launch.records.some((r) => r.op === Op.JOIN_NAMESPACES)).toBe(true);
  expect(plan.encoded.length).toBeGreaterThan(0);
  expect(Object.isFrozen(plan)).toBe(true);
});

test("the saved seccomp profile is compiled into the plan", () => {
  const plan = planExec(request({}, { joined: { ...request().joined, seccomp: { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO" }] } } }));
  expect(plan.launch.records.some((r) => r.op === Op.SECCOMP)).toBe(true);
});

describe("every error of the request", () => {
  test("a bad --cgroup argument", () => {
    expect(() => planExec(request({}, { flags: { args: ["ps"], cgroups: ["a", "b"] } }))).toThrow(new UsageError("invalid --cgroup argument: a (missing <controller>: prefix)"));
  });
  test("a --cap the host lacks", () => {
    expect(() => planExec(request({ caps: ["CAP_SYS_ADMIN"] }, { host: { cgroup: cgroupDriver("/tsrun/c1", { hierarchies: HYBRID }), hostCaps: 0n, lastCap: 40 } }))).toThrow(new UsageError("--cap CAP_SYS_ADMIN: not available on this host"));
  });
  test("an unknown --cap", () => {
    expect(() => planExec(request({ caps: ["CAP_NOPE"] }))).toThrow(/CAP_NOPE/);
  });
  test("--process with process flags", () => {
    const f = processFile({ ...BUSYBOX.process });
    expect(() => planExec(request({ processFile: f, args: [], env: ["A=1"] }))).toThrow(new UsageError("exec: --env cannot be combined with --process (set it in the process file)"));
  });
  test("a --process file that does not exist", () => {
    expect(() => planExec(request({ processFile: join(work, "nope.json"), args: [] }))).toThrow(PathError);
  });
  test("a bad field of a --process file is named by its path in that file", () => {
    const f = processFile({ ...BUSYBOX.process, rlimits: [{ type: "RLIMIT_NOPE", hard: 1, soft: 1 }] });
    expect(() => planExec(request({ processFile: f, args: [] }))).toThrow(new PathError(f, '/rlimits/0/type: unknown rlimit "RLIMIT_NOPE"'));
  });
  test("a process from the config this host cannot give names the config field", () => {
    let err: unknown;
    try {
      // The config's RLIMIT_NOFILE hard limit is 1024.
      planExec(request({}, { host: { cgroup: cgroupDriver("/tsrun/c1", { hierarchies: HYBRID }), hostCaps: ALL_CAPS, lastCap: 40, hostLimits: { hard: [], canRaise: true, nrOpen: 100 } } }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe("/process/rlimits/0/hard");
    expect((err as Error).message).toContain("above the kernel's fs.nr_open 100");
  });
  test("a terminal for a detached exec without a console socket", () => {
    expect(() => planExec(request({ tty: true, detach: true }))).toThrow(/console-socket/);
  });
  test("a bad saved seccomp profile", () => {
    expect(() => planExec(request({}, { joined: { ...request().joined, seccomp: { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_NOPE"] } } }))).toThrow(ConfigError);
  });
});

test("--pidfd-socket: connected in stage 0 before the joins; the process sends a pidfd of itself ('setns', runc's) after the sync, before the filter and the exec", () => {
  const seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["kexec_load"], action: "SCMP_ACT_ERRNO" }] } as const satisfies LinuxSeccomp;
  const base = request();
  const recs = planExec(request({ pidfdSocket: "/run/containerd/e.sock", detach: true }, { joined: { ...base.joined, seccomp } })).launch.records;
  const at = (op: number) => recs.findIndex((r) => r.op === op);
  expect(recs[0]).toEqual({ op: Op.PIDFD_SOCKET, strs: ["/run/containerd/e.sock"] });
  expect(at(Op.PIDFD_SOCKET)).toBeLessThan(at(Op.JOIN_NAMESPACES));
  expect(recs.filter((r) => r.op === Op.PIDFD_SEND)).toEqual([{ op: Op.PIDFD_SEND, strs: ["setns"] }]);
  expect(at(Op.PIDFD_SEND)).toBeGreaterThan(at(Op.SYNC));
  expect(at(Op.PIDFD_SEND)).toBeLessThan(at(Op.SECCOMP));
  expect(at(Op.PIDFD_SEND)).toBeLessThan(at(Op.EXEC));
  expect(planExec(request()).launch.records.some((r) => r.op === Op.PIDFD_SOCKET || r.op === Op.PIDFD_SEND)).toBe(false);
  expect(() => planExec(request({ pidfdSocket: `/${"y".repeat(200)}` }))).toThrow(UsageError);
});
