// containerd's CRI plugin with the runc shim's `SystemdCgroup = true`, as kubeadm sets up Kubernetes nodes:
// a pod whose cgroup parent is a slice gets the runtime called with --systemd-cgroup and a cgroupsPath
// <pod slice>:cri-containerd:<id>, and every container of the pod (the pause sandbox too) must run in its
// scope cri-containerd-<id>.scope under that slice, and leave no unit behind. The containerd and the CRI
// client are test/helpers/cri.ts's (CRI on, its own network namespace). Runs with runc, and with tsrun once
// `bin/tsrun features` says linux.cgroup.systemd; needs systemd as PID 1 (the systemd VM: bash
// test/v2vm/systemd-tests.sh), and elsewhere says it could not check.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CRI_IMAGE, CriEnv, criMissing } from "../helpers/cri.js";
import { NO_SYSTEMD_REASON, SYSTEMD, cgroupDirsMatching, stopUnits, systemdRuntimes, unitProps, waitNoUnits } from "../helpers/systemd.js";
import { ensureBuilt } from "../helpers/tsrun.js";

const STEM = `sdcri${process.pid}`;
const POD_SLICE = `tsrunkube-besteffort-pod${STEM}.slice`;
const PARENT = `/tsrunkube.slice/tsrunkube-besteffort.slice/${POD_SLICE}`;
const missing = !SYSTEMD ? NO_SYSTEMD_REASON : process.getuid?.() !== 0 ? "not root" : criMissing();
if (missing) process.stdout.write(`systemd-cri: NOT checked: ${missing}\n`);
const HANDLERS = missing ? [] : systemdRuntimes("systemd-cri");
// Without systemd (this host kind) what can be checked is the refusal: a pod on a SystemdCgroup handler
// fails at RunPodSandbox with tsrun's own reason, and leaves nothing (no shim, mount, netns, cgroup).
const refusalCheck = !SYSTEMD && process.getuid?.() === 0 && !criMissing();

let env: CriEnv;
beforeAll(async () => {
  if (refusalCheck) {
    ensureBuilt();
    env = new CriEnv({ systemdCgroup: true, cgroupParent: PARENT });
    await env.start();
  }
  if (missing) return;
  ensureBuilt();
  env = new CriEnv({ handlers: HANDLERS, systemdCgroup: true, cgroupParent: PARENT });
  await env.start();
}, 300_000);
afterAll(async () => {
  if (missing) return;
  const leaks = await env.cleanup();
  leaks.push(...waitNoUnits(`cri-containerd-*.scope`).map((u) => `unit ${u}`));
  stopUnits(`cri-containerd-*.scope`);
  leaks.push(...cgroupDirsMatching(STEM).filter((d) => !d.endsWith(".slice")).map((d) => `cgroup ${d}`));
  // The pod slices are the test's own: stopped, not leaks (a node keeps its pods' slices too).
  stopUnits("tsrunkube*.slice");
  expect(leaks).toEqual([]);
}, 300_000);

if (refusalCheck) {
  afterAll(async () => {
    const leaks = await env.cleanup();
    leaks.push(...cgroupDirsMatching(STEM).map((d) => `cgroup ${d}`));
    expect(leaks).toEqual([]);
  }, 300_000);

  test("without systemd as PID 1, a pod on a SystemdCgroup handler fails with tsrun's refusal and leaves nothing", async () => {
    const config = {
      metadata: { name: "sd-refused", uid: "uid-sd-refused", namespace: "tsrun-test", attempt: 0 },
      hostname: "sd-refused",
      logDirectory: join(env.logs, "refused"),
      linux: { cgroupParent: PARENT },
    };
    mkdirSync(config.logDirectory, { recursive: true });
    await expect(env.runtime.RunPodSandbox({ config, runtimeHandler: "tsrun" })).rejects.toThrow(/systemd/);
    expect((await env.runtime.ListPodSandbox({})).items ?? []).toEqual([]);
  });
}

// Where the refusal is what is checked, the systemd cases are not listed (not counted as skipped).
if (!refusalCheck) {
  const describeIf = missing ? describe.skip : describe;
  describeIf.each(HANDLERS.length ? HANDLERS : [["none", ""]])("CRI with SystemdCgroup and the %s handler", (handler) => {
    test("the pod's sandbox and container run in cri-containerd-<id>.scope under the pod slice, with the container's limit; no unit after", async () => {
      const rt = env.runtime;
      const config = {
        metadata: { name: `sd-${handler}`, uid: `uid-sd-${handler}`, namespace: "tsrun-test", attempt: 0 },
        hostname: `sd-${handler}`,
        logDirectory: join(env.logs, handler),
        linux: { cgroupParent: PARENT, securityContext: { namespaceOptions: { network: "POD", pid: "CONTAINER", ipc: "POD" } } },
      };
      mkdirSync(config.logDirectory, { recursive: true });
      const { podSandboxId } = await rt.RunPodSandbox({ config, runtimeHandler: handler });
      const { containerId } = await rt.CreateContainer({
        podSandboxId,
        sandboxConfig: config,
        config: {
          metadata: { name: "c", attempt: 0 },
          image: { image: CRI_IMAGE },
          command: ["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done'],
          logPath: "c.log",
          linux: { resources: { memoryLimitInBytes: 64 << 20 }, securityContext: { namespaceOptions: config.linux.securityContext.namespaceOptions } },
        },
      });
      await rt.StartContainer({ containerId });
      for (const [id, pid] of [
        [podSandboxId, JSON.parse((await rt.PodSandboxStatus({ podSandboxId, verbose: true })).info.info).pid],
        [containerId, JSON.parse((await rt.ContainerStatus({ containerId, verbose: true })).info.info).pid],
      ]) {
        const unit = `cri-containerd-${id}.scope`;
        expect(unitProps(unit, ["ActiveState", "Slice", "ControlGroup"])).toEqual({ ActiveState: "active", Slice: POD_SLICE, ControlGroup: `${PARENT}/${unit}` });
        expect(readFileSync(`/proc/${pid}/cgroup`, "utf8")).toContain(`:${PARENT}/${unit}\n`);
      }
      expect(unitProps(`cri-containerd-${containerId}.scope`, ["MemoryMax"])).toEqual({ MemoryMax: String(64 << 20) });
      // UpdateContainerResources reaches the unit.
      await rt.UpdateContainerResources({ containerId, linux: { memoryLimitInBytes: 96 << 20 } });
      expect(unitProps(`cri-containerd-${containerId}.scope`, ["MemoryMax"])).toEqual({ MemoryMax: String(96 << 20) });
      await rt.StopPodSandbox({ podSandboxId });
      await rt.RemovePodSandbox({ podSandboxId });
      expect(waitNoUnits(`cri-containerd-*.scope`)).toEqual([]);
      expect(cgroupDirsMatching(podSandboxId)).toEqual([]);
      expect(cgroupDirsMatching(containerId)).toEqual([]);
    });
  });
}
