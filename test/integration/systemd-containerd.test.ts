// containerd's runc v2 shim with the systemd cgroup option, as Kubernetes nodes run it (kubeadm's
// `SystemdCgroup = true`): the shim calls the runtime with --systemd-cgroup and a cgroupsPath
// slice:prefix:name, and the container must be in that scope while it runs and leave no unit behind.
// The containerd is private (test/helpers/containerd.ts, CRI off); with CRI off, the option reaches
// the shim as ctr sends it: `ctr run --runc-systemd-cgroup` sets SystemdCgroup = true in the task's
// runc options (the same field the CRI plugin fills from its config), and --cgroup gives the path in
// the CRI's form, <pod slice>:cri-containerd:<id>. Runs with runc, and with tsrun once `bin/tsrun
// features` says linux.cgroup.systemd; needs systemd as PID 1 (the systemd VM: bash
// test/v2vm/systemd-tests.sh), and elsewhere checks the refusal.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { V2_MOUNT } from "../helpers/cgroups.js";
import { CTR_IMAGE, ContainerdEnv } from "../helpers/containerd.js";
import { NO_SYSTEMD_REASON, SYSTEMD, SYSTEMD_V2, cgroupDirsMatching, stopUnits, systemdRuntimes, unitProps, waitNoUnits } from "../helpers/systemd.js";
import { ensureBuilt } from "../helpers/tsrun.js";

const RUNTIMES = systemdRuntimes("systemd-containerd");
const MiB = 1024 * 1024;
const STEM = `sdc${process.pid}`;
/** A pod slice of the kubepods-besteffort-pod<uid>.slice form, under a top slice of the test's own. */
const POD_SLICE = `tsrunpods-besteffort-pod${STEM}.slice`;
const NESTED = `/tsrunpods.slice/tsrunpods-besteffort.slice/${POD_SLICE}`;
if (!SYSTEMD) process.stdout.write(`systemd-containerd: NOT checked on this host: ${NO_SYSTEMD_REASON}\n`);

describe.each(RUNTIMES)("containerd, runc shim with SystemdCgroup, and %s", (name, runtime) => {
  let cd: ContainerdEnv;
  const ids: string[] = [];
  const newId = (tag: string) => {
    const id = `${STEM}-${name}-${tag}`;
    ids.push(id);
    return id;
  };
  const ctr = (...args: string[]) => cd.ctr(args);
  const ok = (...args: string[]) => {
    const r = cd.ctr(args);
    if (r.status !== 0) throw new Error(`ctr ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** `ctr run` with the shim told to use the runtime and systemd, the container in <pod slice>:cri-containerd:<id>. */
  const runArgs = (id: string, ...flags: string[]) => [
    "run",
    ...flags,
    "--runc-binary",
    runtime,
    "--runc-systemd-cgroup",
    "--cgroup",
    `${POD_SLICE}:cri-containerd:${id}`,
    "--memory-limit",
    String(64 * MiB),
    CTR_IMAGE,
    id,
  ];
  const taskStatus = (id: string) => ok("tasks", "ls").split("\n").find((l) => l.split(/\s+/)[0] === id)?.split(/\s+/)[2] ?? "";

  beforeAll(async () => {
    if (name === "tsrun") ensureBuilt();
    cd = new ContainerdEnv(runtime);
    await cd.start();
  });
  afterAll(async () => {
    const leaks = await cd.cleanup();
    if (SYSTEMD) {
      leaks.push(...waitNoUnits(`*${STEM}*.scope`).map((u) => `unit ${u}`));
      stopUnits(`*${STEM}*.scope`);
    }
    leaks.push(...cgroupDirsMatching(STEM).filter((d) => !d.endsWith(".slice")).map((d) => `cgroup ${d}`));
    // The pod slices are the test's own: stopped, not leaks (a real node keeps its pods' slices too).
    if (SYSTEMD) stopUnits("tsrunpods*.slice");
    expect(leaks).toEqual([]);
  });

  if (!SYSTEMD) {
    test("without systemd as PID 1, ctr run fails with the runtime's refusal and leaves no task", () => {
      const id = newId("nosd");
      const r = ctr(...runArgs(id, "--rm"), "true");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/systemd/);
      expect(taskStatus(id)).toBe("");
    });
    return;
  }

  test("run --rm --memory-limit: the container is in cri-containerd-<id>.scope with its limit; no unit after", () => {
    const id = newId("rm");
    const cgroupPath = `${NESTED}/cri-containerd-${id}.scope`;
    // ctr's spec has no cgroup namespace and no cgroup mount: /proc/self/cgroup names the cgroup's full
    // path, and the host's hierarchy, bound read-only, shows its limit.
    const show = SYSTEMD_V2
      ? 'p=$(sed -n "s/^0:://p" /proc/self/cgroup); echo "$p"; cat "/sys/fs/cgroup$p/memory.max"'
      : 'p=$(sed -n "s/^[0-9]*:memory://p" /proc/self/cgroup); echo "$p"; cat "/sys/fs/cgroup/memory$p/memory.limit_in_bytes"';
    const out = ok(...runArgs(id, "--rm", "--mount", "type=bind,src=/sys/fs/cgroup,dst=/sys/fs/cgroup,options=rbind:ro"), "sh", "-c", show);
    expect(out.split("\n")).toEqual([cgroupPath, String(64 * MiB)]);
    expect(waitNoUnits(`*${id}*`)).toEqual([]);
    expect(cgroupDirsMatching(id)).toEqual([]);
    expect(ok("containers", "ls", "-q")).toBe("");
  });

  test("run -d: the unit is there while the task runs, with MemoryMax; after task kill and rm it is gone", () => {
    const id = newId("d");
    const unit = `cri-containerd-${id}.scope`;
    const cgroupPath = `${NESTED}/${unit}`;
    ok(...runArgs(id, "-d"), "sh", "-c", 'trap "exit 0" TERM; sleep 600 & wait');
    for (let i = 0; i < 100 && taskStatus(id) !== "RUNNING"; i++) spawnSync("sleep", ["0.1"]);
    expect(taskStatus(id)).toBe("RUNNING");
    expect(unitProps(unit, ["ActiveState", "Slice", "ControlGroup", "MemoryMax"])).toEqual({
      ActiveState: "active",
      Slice: POD_SLICE,
      ControlGroup: cgroupPath,
      MemoryMax: String(64 * MiB),
    });
    const pid = ok("tasks", "ls").split("\n").find((l) => l.split(/\s+/)[0] === id)!.split(/\s+/)[1];
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toContain(`:${cgroupPath}\n`);
    if (SYSTEMD_V2) expect(readFileSync(join(V2_MOUNT!, cgroupPath, "memory.max"), "utf8").trim()).toBe(String(64 * MiB));
    ok("task", "kill", id);
    for (let i = 0; i < 100 && taskStatus(id) !== "STOPPED"; i++) spawnSync("sleep", ["0.1"]);
    expect(taskStatus(id)).toBe("STOPPED");
    ok("task", "rm", id);
    ok("containers", "rm", id);
    expect(waitNoUnits(`*${id}*`)).toEqual([]);
    expect(cgroupDirsMatching(id)).toEqual([]);
  });
});
