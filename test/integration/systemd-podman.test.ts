// podman with systemd's cgroup manager (`podman --cgroup-manager=systemd --runtime <runtime>`, the
// default on systemd hosts): podman hands the runtime --systemd-cgroup and cgroupsPath
// machine.slice:libpod:<id>, and the container must land in libpod-<id>.scope under machine.slice with
// its limits, and leave nothing when removed. Root, podman's private storage and config under the
// machine's /tmp (test/helpers/podman.ts); --network none: the cgroups are the subject, not the bridge.
// Runs with runc, and with tsrun once `bin/tsrun features` says linux.cgroup.systemd; needs systemd as
// PID 1 (the systemd VM: bash test/v2vm/systemd-tests.sh), and elsewhere checks the refusal.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { V2_MOUNT } from "../helpers/cgroups.js";
import { IMAGE, PodmanEnv } from "../helpers/podman.js";
import { NO_SYSTEMD_REASON, SYSTEMD, SYSTEMD_V2, cgroupDirsMatching, stopUnits, systemdRuntimes, unitProps, waitNoUnits } from "../helpers/systemd.js";
import { ensureBuilt } from "../helpers/tsrun.js";

const RUNTIMES = systemdRuntimes("systemd-podman");
const MiB = 1024 * 1024;
if (!SYSTEMD) process.stdout.write(`systemd-podman: NOT checked on this host: ${NO_SYSTEMD_REASON}\n`);

describe.each(RUNTIMES)("podman --cgroup-manager=systemd with %s", (name, runtime) => {
  let pm: PodmanEnv;
  /** Full ids of every container a test made (podman's ids are the units' names). */
  const ids: string[] = [];
  const p = (...args: string[]) => pm.podman(args);
  const ok = (...args: string[]) => {
    const r = pm.podman(args);
    if (r.status !== 0) throw new Error(`podman ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** The id podman gave a container, from its --cidfile. */
  const cid = (file: string) => {
    const id = readFileSync(file, "utf8").trim();
    ids.push(id);
    return id;
  };

  beforeAll(() => {
    if (name === "tsrun") ensureBuilt();
    pm = new PodmanEnv(runtime, { cgroupManager: "systemd" });
  });
  afterAll(() => {
    const leaks = pm.cleanup();
    // The containers' and conmon's scopes of every id: gone once podman removed the containers.
    for (const id of ids) {
      if (SYSTEMD) leaks.push(...waitNoUnits(`*${id}*`).map((u) => `unit ${u}`));
      leaks.push(...cgroupDirsMatching(id).map((d) => `cgroup ${d}`));
      if (SYSTEMD) stopUnits(`*${id}*`);
    }
    expect(leaks).toEqual([]);
  });

  if (!SYSTEMD) {
    test("without systemd as PID 1, run fails with the runtime's refusal and leaves no container", () => {
      const r = p("run", "--rm", "--network", "none", IMAGE, "true");
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/systemd/);
      expect(ok("ps", "-a", "-q")).toBe("");
    });
    return;
  }

  test("run --rm --memory 64m: the container sees its limit; no container, unit or cgroup after", () => {
    const file = join(pm.dir, "rm.cid");
    // cgroup v2: the container's own cgroup namespace shows its cgroup at /sys/fs/cgroup.
    const limitFile = SYSTEMD_V2 ? "/sys/fs/cgroup/memory.max" : "/sys/fs/cgroup/memory/memory.limit_in_bytes";
    const out = ok("run", "--rm", "--cidfile", file, "--network", "none", "--memory", "64m", IMAGE, "cat", limitFile);
    expect(out).toBe(String(64 * MiB));
    const id = cid(file);
    expect(ok("ps", "-a", "-q")).toBe("");
    expect(waitNoUnits(`*${id}*`)).toEqual([]);
    expect(cgroupDirsMatching(id)).toEqual([]);
  });

  test("run -d: libpod-<id>.scope under machine.slice holds the container with MemoryMax; rm -f removes it and conmon's scope", () => {
    const file = join(pm.dir, "d.cid");
    ok("run", "-d", "--cidfile", file, "--network", "none", "--memory", "64m", IMAGE, "sh", "-c", 'trap "exit 0" TERM; sleep 600 & wait');
    const id = cid(file);
    const unit = `libpod-${id}.scope`;
    const cgroupPath = `/machine.slice/${unit}`;
    expect(unitProps(unit, ["ActiveState", "Slice", "ControlGroup", "MemoryMax"])).toEqual({
      ActiveState: "active",
      Slice: "machine.slice",
      ControlGroup: cgroupPath,
      MemoryMax: String(64 * MiB),
    });
    const pid = ok("inspect", "--format", "{{.State.Pid}}", id);
    expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toContain(`:${cgroupPath}\n`);
    if (SYSTEMD_V2) expect(readFileSync(join(V2_MOUNT!, cgroupPath, "memory.max"), "utf8").trim()).toBe(String(64 * MiB));
    // conmon runs in a scope of its own beside the container's (podman's systemd manager).
    expect(unitProps(`libpod-conmon-${id}.scope`, ["ActiveState", "Slice"])).toEqual({ ActiveState: "active", Slice: "machine.slice" });
    ok("rm", "-f", "-t", "0", id);
    expect(ok("ps", "-a", "-q")).toBe("");
    expect(waitNoUnits(`*${id}*`)).toEqual([]);
    expect(cgroupDirsMatching(id)).toEqual([]);
  });
});
