// tsrun under containerd's CRI plugin, as the kubelet drives it: pods and containers made over CRI v1
// gRPC by a private containerd (test/helpers/cri.ts) whose runc v2 shim runs tsrun for the runtime
// handler "tsrun" and runc for "runc". Every scenario runs with both handlers and expects the same.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { CRI_IMAGE, CriEnv, HANDLERS, criMissing } from "../helpers/cri.js";
import { NSENTER } from "../helpers/host.js";
import { ensureBuilt } from "../helpers/tsrun.js";

const missing = process.getuid?.() === 0 ? criMissing() : "not root";
if (missing) console.warn(`cri.test.ts: could not check tsrun under containerd's CRI plugin: ${missing}`);
const describeIf = missing ? describe.skip : describe;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LOOP = ["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done'];

let env: CriEnv;
beforeAll(async () => {
  if (missing) return;
  ensureBuilt();
  env = new CriEnv();
  await env.start();
}, 120_000);
afterAll(async () => {
  if (missing) return;
  expect(await env.cleanup()).toEqual([]);
}, 120_000);

type NsMode = "POD" | "CONTAINER" | "NODE";
interface PodOpts {
  network?: NsMode;
  pid?: NsMode;
  ipc?: NsMode;
  privileged?: boolean;
}

describeIf.each(HANDLERS)("CRI with the %s handler", (handler) => {
  let seq = 0;
  const rt = () => env.runtime;

  const podConfig = (name: string, o: PodOpts = {}) => {
    const logDirectory = join(env.logs, handler, name);
    mkdirSync(logDirectory, { recursive: true });
    return {
      metadata: { name, uid: `uid-${handler}-${name}`, namespace: "tsrun-test", attempt: 0 },
      hostname: o.network === "NODE" ? "" : `h-${name}`,
      logDirectory,
      linux: {
        cgroupParent: env.cgroupParent,
        securityContext: {
          namespaceOptions: { network: o.network ?? "POD", pid: o.pid ?? "CONTAINER", ipc: o.ipc ?? "POD" },
          privileged: o.privileged ?? false,
        },
      },
    };
  };

  /** A running pod: its id and the config the containers get again. */
  const runPod = async (o: PodOpts = {}) => {
    const config = podConfig(`p${seq++}`, o);
    const { podSandboxId } = await rt().RunPodSandbox({ config, runtimeHandler: handler });
    return { id: podSandboxId as string, config };
  };
  const removePod = async (id: string) => {
    await rt().StopPodSandbox({ podSandboxId: id });
    await rt().RemovePodSandbox({ podSandboxId: id });
  };

  interface CtrOpts {
    command?: string[];
    envs?: { key: string; value: string }[];
    mounts?: object[];
    resources?: object;
    security?: object;
    name?: string;
  }
  const createContainer = async (pod: { id: string; config: ReturnType<typeof podConfig> }, o: CtrOpts = {}) => {
    const name = o.name ?? `c${seq++}`;
    const { containerId } = await rt().CreateContainer({
      podSandboxId: pod.id,
      sandboxConfig: pod.config,
      config: {
        metadata: { name, attempt: 0 },
        image: { image: CRI_IMAGE },
        command: o.command ?? LOOP,
        envs: o.envs ?? [],
        mounts: o.mounts ?? [],
        logPath: `${name}.log`,
        linux: { resources: o.resources ?? {}, securityContext: o.security ?? {} },
      },
    });
    return containerId as string;
  };
  const startContainer = async (pod: Parameters<typeof createContainer>[0], o: CtrOpts = {}) => {
    const id = await createContainer(pod, o);
    await rt().StartContainer({ containerId: id });
    return id;
  };
  const status = async (id: string) => (await rt().ContainerStatus({ containerId: id, verbose: true })) as { status: any; info: Record<string, string> };
  const pidOf = async (id: string) => JSON.parse((await status(id)).info.info).pid as number;
  /** The pause process's pid, from the sandbox's verbose status. */
  const podPid = async (id: string) => JSON.parse((await rt().PodSandboxStatus({ podSandboxId: id, verbose: true })).info.info).pid as number;
  const exec = async (id: string, cmd: string[], timeout = 0) => {
    const r = await rt().ExecSync({ containerId: id, cmd, timeout });
    return { code: r.exitCode as number, out: (r.stdout as Buffer).toString(), err: (r.stderr as Buffer).toString() };
  };
  const waitExited = async (id: string, ms = 15_000) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
      const s = (await status(id)).status;
      if (s.state === "CONTAINER_EXITED") return s;
    }
    return (await status(id)).status;
  };
  const nsOf = (pid: number, ns: string) => readlinkSync(`/proc/${pid}/ns/${ns}`);

  test("RunPodSandbox, PodSandboxStatus, StopPodSandbox, RemovePodSandbox", async () => {
    const pod = await runPod();
    const st = (await rt().PodSandboxStatus({ podSandboxId: pod.id, verbose: true })).status;
    expect(st.state).toBe("SANDBOX_READY");
    expect(st.runtimeHandler).toBe(handler);
    expect(st.network.ip).toMatch(/^10\.77\.0\.\d+$/);
    // The shim ran the pause container with this handler's binary: its state is in that root.
    expect(existsSync(join(env.runtimeRoot(handler), "k8s.io", pod.id))).toBe(true);
    await rt().StopPodSandbox({ podSandboxId: pod.id });
    expect((await rt().PodSandboxStatus({ podSandboxId: pod.id })).status.state).toBe("SANDBOX_NOTREADY");
    await rt().StopPodSandbox({ podSandboxId: pod.id }); // idempotent
    await rt().RemovePodSandbox({ podSandboxId: pod.id });
    expect((await rt().ListPodSandbox({ filter: { id: pod.id } })).items).toEqual([]);
    expect(existsSync(join(env.runtimeRoot(handler), "k8s.io", pod.id))).toBe(false);
  });

  test("a container shares the pod's network, IPC and UTS namespaces; its own PID namespace", async () => {
    const pod = await runPod();
    const c = await startContainer(pod);
    const [sp, cp] = [await podPid(pod.id), await pidOf(c)];
    for (const ns of ["net", "ipc", "uts"]) expect(nsOf(cp, ns)).toBe(nsOf(sp, ns));
    expect(nsOf(cp, "pid")).not.toBe(nsOf(sp, "pid"));
    expect(nsOf(cp, "mnt")).not.toBe(nsOf(sp, "mnt"));
    expect((await exec(c, ["hostname"])).out.trim()).toBe(pod.config.hostname);
    const podIp = (await rt().PodSandboxStatus({ podSandboxId: pod.id })).status.network.ip;
    expect((await exec(c, ["ip", "-4", "-o", "addr", "show", "eth0"])).out).toContain(`inet ${podIp}/24`);
    // The pod's process list is its own: the container's shell is pid 1.
    expect((await exec(c, ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"])).out).toContain("while :");
    await removePod(pod.id);
  });

  test("with shareProcessNamespace the container is in the pod's PID namespace", async () => {
    const pod = await runPod({ pid: "POD" });
    const c = await startContainer(pod, { security: { namespaceOptions: { network: "POD", pid: "POD", ipc: "POD" } } });
    expect(nsOf(await pidOf(c), "pid")).toBe(nsOf(await podPid(pod.id), "pid"));
    const ps = (await exec(c, ["ps", "-o", "pid,args"])).out;
    expect(ps).toMatch(/^\s*1\s+\/pause\s*$/m);
    await removePod(pod.id);
  });

  test("hostNetwork and hostPID pods are in containerd's network and the host's PID namespace", async () => {
    const pod = await runPod({ network: "NODE", pid: "NODE" });
    const c = await startContainer(pod, { security: { namespaceOptions: { network: "NODE", pid: "NODE", ipc: "POD" } } });
    const cp = await pidOf(c);
    const hostNet = spawnSync(NSENTER, [`--net=${env.netns}`, "readlink", "/proc/self/ns/net"], { encoding: "utf8" }).stdout.trim();
    expect(nsOf(cp, "net")).toBe(hostNet);
    expect(nsOf(cp, "pid")).toBe(nsOf(process.pid, "pid"));
    // The host's pids are visible: this test's own process is there.
    expect((await exec(c, ["cat", `/proc/${process.pid}/cmdline`])).code).toBe(0);
    await removePod(pod.id);
  });

  test("env and command reach the process; ExecSync exit codes, output and timeout", async () => {
    const pod = await runPod();
    const c = await startContainer(pod, { envs: [{ key: "GREETING", value: "hello there" }, { key: "EMPTY", value: "" }] });
    expect(await exec(c, ["sh", "-c", 'echo "$GREETING"; echo err >&2; exit 3'])).toEqual({ code: 3, out: "hello there\n", err: "err\n" });
    expect((await exec(c, ["sh", "-c", 'test "${EMPTY+set}" = set'])).code).toBe(0);
    expect((await exec(c, ["true"])).code).toBe(0);
    const t0 = Date.now();
    await expect(exec(c, ["sleep", "30"], 1)).rejects.toThrow(/timeout/i);
    expect(Date.now() - t0).toBeLessThan(15_000);
    // A missing command in an exec is an error exit, not a hang.
    const bad = await exec(c, ["/no/such/command"]).catch((e: Error) => ({ code: -1, out: "", err: e.message }));
    expect(bad.code).not.toBe(0);
    await removePod(pod.id);
  });

  test("a container over its memory limit is OOM-killed and ContainerStatus says OOMKilled", async () => {
    const pod = await runPod();
    // tail holds all of /dev/zero's one endless line in memory.
    const c = await startContainer(pod, { command: ["sh", "-c", "tail /dev/zero"], resources: { memoryLimitInBytes: 32 << 20, memorySwapLimitInBytes: 32 << 20 } });
    const s = await waitExited(c, 30_000);
    expect({ state: s.state, reason: s.reason, exitCode: s.exitCode }).toEqual({ state: "CONTAINER_EXITED", reason: "OOMKilled", exitCode: 137 });
    await removePod(pod.id);
  });
});
