// tsrun under containerd's CRI plugin, as the kubelet drives it: pods and containers made over CRI v1
// gRPC by a private containerd (test/helpers/cri.ts) whose runc v2 shim runs tsrun for the runtime
// handler "tsrun" and runc for "runc". Every scenario runs with both handlers and expects the same.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
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
    /** An interactive container (Attach): stdin kept open, a tty. */
    interactive?: boolean;
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
        stdin: o.interactive ?? false,
        tty: o.interactive ?? false,
        // As the kubelet: the container's namespace modes are the pod's, spelled out (CRI's default for pid is POD).
        linux: { resources: o.resources ?? {}, securityContext: { namespaceOptions: pod.config.linux.securityContext.namespaceOptions, ...o.security } },
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
    // tail holds all of /dev/zero's one endless line in memory. The second's wait lets the shim watch the
    // cgroup's OOM events before the kill (on cgroup v1 it registers after the start: runc alike).
    const c = await startContainer(pod, { command: ["sh", "-c", "sleep 1; tail /dev/zero"], resources: { memoryLimitInBytes: 32 << 20, memorySwapLimitInBytes: 32 << 20 } });
    const s = await waitExited(c, 30_000);
    expect({ state: s.state, reason: s.reason, exitCode: s.exitCode }).toEqual({ state: "CONTAINER_EXITED", reason: "OOMKilled", exitCode: 137 });
    await removePod(pod.id);
  });

  test("mounts with rprivate, rslave and rshared propagation", async () => {
    // A shared mount of the test's own: rslave and rshared need a shared (or slave) source.
    const src = join(env.dir, `prop-${handler}`);
    mkdirSync(src);
    writeFileSync(join(src, "file"), "from-host");
    const mnt = (...a: string[]) => spawnSync("mount", a, { encoding: "utf8" });
    expect(mnt("--bind", src, src).status).toBe(0);
    try {
      expect(mnt("--make-shared", src).status).toBe(0);
      const pod = await runPod({ privileged: true });
      const vol = (propagation: string, readonly = false) => ({ containerPath: "/vol", hostPath: src, readonly, propagation });
      const priv = await startContainer(pod, { mounts: [vol("PROPAGATION_PRIVATE", true)] });
      const slave = await startContainer(pod, { mounts: [vol("PROPAGATION_HOST_TO_CONTAINER")] });
      const shared = await startContainer(pod, { mounts: [vol("PROPAGATION_BIDIRECTIONAL")], security: { privileged: true } });
      for (const c of [priv, slave, shared]) expect((await exec(c, ["cat", "/vol/file"])).out).toBe("from-host");
      // readonly: a write fails.
      expect((await exec(priv, ["sh", "-c", "echo x > /vol/new"])).code).not.toBe(0);
      // A mount made on the host after the start reaches rslave and rshared, not rprivate.
      mkdirSync(join(src, "sub"));
      expect(mnt("-t", "tmpfs", "-o", "size=1m", "hostsub", join(src, "sub")).status).toBe(0);
      writeFileSync(join(src, "sub/marker"), "late");
      const sees = async (c: string, f: string) => (await exec(c, ["cat", f])).out;
      expect(await sees(priv, "/vol/sub/marker")).toBe("");
      expect(await sees(slave, "/vol/sub/marker")).toBe("late");
      expect(await sees(shared, "/vol/sub/marker")).toBe("late");
      // A mount made in the rshared container reaches the host; one in the rslave container could not be made.
      expect((await exec(shared, ["sh", "-c", "mkdir -p /vol/back && mount -t tmpfs ctrsub /vol/back && echo up > /vol/back/m"])).code).toBe(0);
      expect(readFileSync(join(src, "back/m"), "utf8")).toBe("up\n");
      expect((await exec(slave, ["sh", "-c", "mount -t tmpfs x /vol/sub"])).code).not.toBe(0);
      await removePod(pod.id);
    } finally {
      spawnSync("umount", ["-R", "-l", src]);
    }
  });

  test("resources reach the cgroup, UpdateContainerResources changes them", async () => {
    const pod = await runPod();
    const c = await startContainer(pod, { resources: { cpuPeriod: 100000, cpuQuota: 50000, cpuShares: 512, memoryLimitInBytes: 64 << 20 } });
    const cg = (ctl: string, file: string) => readFileSync(join("/sys/fs/cgroup", ctl, env.cgroupParent, c, file), "utf8").trim();
    const v2 = !existsSync("/sys/fs/cgroup/memory");
    if (v2) {
      expect(readFileSync(join("/sys/fs/cgroup", env.cgroupParent, c, "memory.max"), "utf8").trim()).toBe(String(64 << 20));
    } else {
      expect([cg("memory", "memory.limit_in_bytes"), cg("cpu", "cpu.cfs_quota_us"), cg("cpu", "cpu.shares")]).toEqual([String(64 << 20), "50000", "512"]);
    }
    await rt().UpdateContainerResources({ containerId: c, linux: { cpuPeriod: 100000, cpuQuota: 20000, cpuShares: 256, memoryLimitInBytes: 96 << 20 } });
    if (v2) {
      expect(readFileSync(join("/sys/fs/cgroup", env.cgroupParent, c, "memory.max"), "utf8").trim()).toBe(String(96 << 20));
    } else {
      expect([cg("memory", "memory.limit_in_bytes"), cg("cpu", "cpu.cfs_quota_us"), cg("cpu", "cpu.shares")]).toEqual([String(96 << 20), "20000", "256"]);
    }
    // The process sees its own cgroup's limit.
    expect((await exec(c, ["cat", v2 ? "/sys/fs/cgroup/memory.max" : "/sys/fs/cgroup/memory/memory.limit_in_bytes"])).out.trim()).toBe(String(96 << 20));
    await removePod(pod.id);
  });

  test("a privileged container has the host's devices, no seccomp, every capability", async () => {
    const pod = await runPod({ privileged: true });
    const c = await startContainer(pod, { security: { privileged: true } });
    const hostDevs = ["kmsg", "loop-control", "mem", "full"].filter((d) => existsSync(`/dev/${d}`));
    expect(hostDevs.length).toBeGreaterThan(0);
    for (const d of hostDevs) expect((await exec(c, ["test", "-c", `/dev/${d}`])).code).toBe(0);
    expect((await exec(c, ["grep", "^Seccomp:", "/proc/self/status"])).out).toMatch(/Seccomp:\s+0/);
    // CAP_SYS_ADMIN (bit 21) in the effective set: it can mount.
    const capEff = async (id: string) => BigInt(`0x${(await exec(id, ["grep", "^CapEff:", "/proc/self/status"])).out.split(/\s+/)[1]}`);
    expect((await capEff(c)) & (1n << 21n)).toBe(1n << 21n);
    expect((await exec(c, ["sh", "-c", "mkdir -p /m && mount -t tmpfs x /m && umount /m"])).code).toBe(0);
    // An unprivileged one has none of the extra devices and no CAP_SYS_ADMIN.
    const plain = await startContainer(pod);
    expect((await exec(plain, ["test", "-e", "/dev/kmsg"])).code).not.toBe(0);
    expect((await capEff(plain)) & (1n << 21n)).toBe(0n);
    await removePod(pod.id);
  });

  test("a read-only root refuses writes; runAsUser, runAsGroup and supplementalGroups set the ids", async () => {
    const pod = await runPod();
    const c = await startContainer(pod, {
      security: { readonlyRootfs: true, runAsUser: { value: 1234 }, runAsGroup: { value: 2345 }, supplementalGroups: [3456, 4567] },
    });
    const w = await exec(c, ["sh", "-c", "echo x > /newfile"]);
    expect(w.code).not.toBe(0);
    expect(w.err).toMatch(/Read-only file system/);
    expect((await exec(c, ["sh", "-c", "id -u; id -g; id -G"])).out.split("\n")).toEqual(["1234", "2345", expect.stringMatching(/^2345 3456 4567$/), ""]);
    // The container's own process has the same ids.
    const st = readFileSync(`/proc/${await pidOf(c)}/status`, "utf8");
    expect(st).toMatch(/^Uid:\s+1234\s/m);
    expect(st).toMatch(/^Gid:\s+2345\s/m);
    expect(st).toMatch(/^Groups:\s+2345 3456 4567\s*$/m);
    await removePod(pod.id);
  });

  test("the shim writes the container's logs; ReopenContainerLog starts a new file", async () => {
    const pod = await runPod();
    const c = await startContainer(pod, { command: ["sh", "-c", 'echo out-1; echo err-1 >&2; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo out-2; sleep 1000'] });
    const logPath = (await status(c)).status.logPath as string;
    expect(logPath).toBe(join(pod.config.logDirectory, `${(await status(c)).status.metadata.name}.log`));
    const lines = async (want: number) => {
      for (let i = 0; i < 100; i++, await sleep(100)) {
        const l = existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").filter(Boolean) : [];
        if (l.length >= want) return l;
      }
      return existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").filter(Boolean) : [];
    };
    const first = await lines(2);
    // The CRI log format: <RFC3339Nano time> <stream> <F|P> <text>
    expect(first.map((l) => l.replace(/^\S+ /, "")).sort()).toEqual(["stderr F err-1", "stdout F out-1"]);
    expect(first[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z? /);
    renameSync(logPath, `${logPath}.1`);
    await rt().ReopenContainerLog({ containerId: c });
    await exec(c, ["touch", "/tmp/go"]);
    expect((await lines(1)).map((l) => l.replace(/^\S+ /, ""))).toEqual(["stdout F out-2"]);
    expect(readFileSync(`${logPath}.1`, "utf8")).not.toContain("out-2");
    await removePod(pod.id);
  });

  test("StopContainer: TERM within the grace period, then KILL", async () => {
    const pod = await runPod();
    const polite = await startContainer(pod);
    const stubborn = await startContainer(pod, { command: ["sh", "-c", 'trap "" TERM; while :; do sleep 0.1; done'] });
    let t0 = Date.now();
    await rt().StopContainer({ containerId: polite, timeout: 10 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect((await status(polite)).status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 0 });
    t0 = Date.now();
    await rt().StopContainer({ containerId: stubborn, timeout: 2 });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(10_000);
    expect((await status(stubborn)).status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 137 });
    await rt().StopContainer({ containerId: stubborn, timeout: 2 }); // idempotent
    await rt().RemoveContainer({ containerId: stubborn });
    await rt().RemoveContainer({ containerId: polite });
    expect((await rt().ListContainers({ filter: { podSandboxId: pod.id } })).containers).toEqual([]);
    await removePod(pod.id);
  });

  test("ContainerStats and ListContainerStats", async () => {
    const pod = await runPod();
    const c = await startContainer(pod, { command: ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 1000"], resources: { memoryLimitInBytes: 64 << 20 } });
    await sleep(1500);
    // Once (of 9 runs, with both handlers alike, on a host shared with other cgroup tests) containerd
    // answered "unexpected metrics response: []": its shim could not load the cgroup that moment. Asked
    // again after a pause; a persistent failure still fails.
    const statsOf = async (tries: number): Promise<any> => {
      try {
        return await rt().ContainerStats({ containerId: c });
      } catch (e) {
        if (tries <= 1 || !/unexpected metrics response/.test((e as Error).message)) throw e;
        await sleep(1000);
        return statsOf(tries - 1);
      }
    };
    const { stats } = await statsOf(3);
    expect(stats.attributes.id).toBe(c);
    expect(stats.cpu.usageCoreNanoSeconds.value).toBeGreaterThan(0);
    expect(stats.memory.workingSetBytes.value).toBeGreaterThan(0);
    const list = (await rt().ListContainerStats({ filter: { podSandboxId: pod.id } })).stats;
    expect(list.map((s: { attributes: { id: string } }) => s.attributes.id)).toEqual([c]);
    await removePod(pod.id);
  });

  test("a container whose command is missing: StartContainer fails as with runc, and nothing is left", async () => {
    const pod = await runPod();
    const c = await createContainer(pod, { command: ["/no/such/binary"] });
    await expect(rt().StartContainer({ containerId: c })).rejects.toThrow(/no such file or directory|executable file not found/);
    const s = (await status(c)).status;
    expect({ state: s.state, exitCode: s.exitCode, reason: s.reason }).toEqual({ state: "CONTAINER_EXITED", exitCode: 128, reason: "StartError" });
    await rt().RemoveContainer({ containerId: c });
    const root = join(env.runtimeRoot(handler), "k8s.io");
    expect(readdirSync(root)).not.toContain(c);
    expect(existsSync(join("/sys/fs/cgroup/memory", env.cgroupParent, c))).toBe(false);
    await removePod(pod.id);
    expect(readdirSync(root)).not.toContain(pod.id);
  });

  test("a pod whose sandbox dies is NOTREADY, and stopping and removing it leaves nothing", async () => {
    const pod = await runPod();
    const c = await startContainer(pod);
    const cp = await pidOf(c);
    process.kill(await podPid(pod.id), "SIGKILL");
    let state = "";
    for (let i = 0; i < 100 && state !== "SANDBOX_NOTREADY"; i++, await sleep(100)) state = (await rt().PodSandboxStatus({ podSandboxId: pod.id })).status.state;
    expect(state).toBe("SANDBOX_NOTREADY");
    // The container keeps running until the pod is stopped.
    expect((await status(c)).status.state).toBe("CONTAINER_RUNNING");
    await removePod(pod.id);
    expect(existsSync(`/proc/${cp}`) && !/\) Z /.test(readFileSync(`/proc/${cp}/stat`, "utf8"))).toBe(false);
    expect(readdirSync(join(env.runtimeRoot(handler), "k8s.io")).filter((id) => id === c || id === pod.id)).toEqual([]);
    rmSync(pod.config.logDirectory, { recursive: true, force: true });
  });

  test("Exec and Attach with a tty through the streaming server", async () => {
    const pod = await runPod();
    const c = await startContainer(pod, { command: ["sh", "-c", 'while read l; do echo "att-$l"; done'], interactive: true });
    const { url } = await rt().Exec({ containerId: c, cmd: ["sh", "-c", 'read x; echo "got-$x"; tty; exit 3'], tty: true, stdin: true, stdout: true });
    const r = env.stream(url, "abc\n", "", 20_000);
    expect(r.stdout).toContain("got-abc");
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    // The exit code comes on the error channel as a Status whose cause says ExitCode.
    const st = JSON.parse(r.status);
    expect(st.status).toBe("Failure");
    expect(st.details.causes).toContainEqual({ reason: "ExitCode", message: "3" });
    const ok = env.stream((await rt().Exec({ containerId: c, cmd: ["true"], tty: true, stdout: true })).url, "", "", 20_000);
    expect(JSON.parse(ok.status).status).toBe("Success");
    // Attach: the container's own process, on its tty, answers a line.
    const a = await rt().Attach({ containerId: c, stdin: true, tty: true, stdout: true });
    const ar = env.stream(a.url, "hello\n", "att-hello", 20_000);
    expect(ar.stdout).toContain("att-hello");
    expect((await status(c)).status.state).toBe("CONTAINER_RUNNING");
    await removePod(pod.id);
  });
});
