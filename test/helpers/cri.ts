// A private containerd with its CRI plugin on, for tsrun's Kubernetes tests: its own config, socket,
// root and state directories under a temporary directory, started and stopped by pid. It runs inside
// a network namespace the test makes (bound to a file under that directory), so the CNI bridge it
// sets up for pods, the pods' veths and `hostNetwork` pods all live there: the machine's network is
// untouched. Two runtime handlers use the runc v2 shim: "tsrun" (BinaryName = bin/tsrun) and "runc",
// each with its own state root. The sandbox image (a static pause program the test builds) and the
// test image (the busybox rootfs) are imported with `ctr -n k8s.io images import`. The CRI client is
// gRPC over the socket with this project's own subset of the CRI v1 API (cri/runtime-v1.proto).
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ociArchive } from "./containerd.js";
import { NSENTER, mountsAndProcessesUnder, unmountUnder } from "./host.js";
import { TOP, TSRUN } from "./tsrun.js";

export const CRI_IMAGE = "localhost/tsrun-busybox:cri";
export const PAUSE_IMAGE = "localhost/tsrun-pause:cri";
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const CNI_BIN = "/usr/lib/cni";
/** The runtime handlers (RuntimeClass names) this containerd knows, and the binary each gives the shim. */
export const HANDLERS: [string, string][] = [
  ["tsrun", TSRUN],
  ["runc", "/usr/sbin/runc"],
];

/** What the host lacks for these tests, or "" when everything is there. */
export function criMissing(): string {
  const need = ["/usr/bin/containerd", "/usr/bin/ctr", "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc", "/usr/bin/gcc", NSENTER, "/usr/bin/unshare"];
  need.push(...["bridge", "host-local", "loopback"].map((p) => join(CNI_BIN, p)));
  const missing = need.filter((p) => !existsSync(p));
  if (missing.length) return `missing ${missing.join(", ")} (src/build/install-deps.sh --test installs them)`;
  const probe = spawnSync("gcc", ["-static", "-x", "c", "-o", "/dev/null", "-"], { input: "int main(void){return 0;}", encoding: "utf8" });
  if (probe.status !== 0) return `gcc -static does not link here: ${probe.stderr.trim()}`;
  return "";
}

type Call = (req: object) => Promise<any>;
export type CriService = Record<string, Call>;

export interface CriEnvOptions {
  /** The runtime handlers, [name, binary] (default HANDLERS). */
  handlers?: [string, string][];
  /** The shim's SystemdCgroup option: the runtime gets --systemd-cgroup and, for a pod whose cgroup parent
   *  is a slice, the cgroupsPath <slice>:cri-containerd:<id>. */
  systemdCgroup?: boolean;
  /** The pods' cgroup parent (default /tsrun-cri-<pid>-<n>; a .../<name>.slice path for systemd). */
  cgroupParent?: string;
}

let envSeq = 0;
export class CriEnv {
  readonly dir = mkdtempSync(join(tmpdir(), "tsrun-cri-"));
  readonly socket = join(this.dir, "containerd.sock");
  /** The network namespace containerd (and so the CNI bridge and hostNetwork pods) lives in. */
  readonly netns = join(this.dir, "netns");
  /** Every pod's cgroup parent: the containers' cgroups are <parent>/<id> in each hierarchy. */
  readonly cgroupParent: string;
  readonly handlers: [string, string][];
  /** The CNI network's name: host-local's and libcni's state carry it. */
  readonly network = `tsrun-cri-${process.pid}`;
  readonly logs = join(this.dir, "pod-logs");
  runtime!: CriService;
  image!: CriService;
  private daemon?: ChildProcess;
  private clients: grpc.Client[] = [];

  constructor(readonly options: CriEnvOptions = {}) {
    this.cgroupParent = options.cgroupParent ?? `/tsrun-cri-${process.pid}-${envSeq++}`;
    this.handlers = options.handlers ?? HANDLERS;
  }

  async start(): Promise<void> {
    const d = this.dir;
    mkdirSync(this.logs);
    // The network namespace, bound to a file of ours, with its loopback up (the stream server listens there).
    writeFileSync(this.netns, "");
    run("unshare", [`--net=${this.netns}`, "true"]);
    run(NSENTER, [`--net=${this.netns}`, "ip", "link", "set", "lo", "up"]);
    this.writeCni();
    this.importables();
    writeFileSync(join(d, "config.toml"), this.config());
    const log = openSync(join(d, "containerd.log"), "a");
    this.daemon = spawn(NSENTER, [`--net=${this.netns}`, "--", "/usr/bin/containerd", "--config", join(d, "config.toml")], {
      stdio: ["ignore", log, log],
      env: { PATH },
    });
    for (let i = 0; i < 300; i++) {
      if (existsSync(this.socket) && this.ctr(["version"]).status === 0) break;
      if (this.daemon.exitCode !== null) throw new Error(`containerd exited: ${this.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const archive of [join(d, "pause-image/image.tar"), join(d, "busybox-image/image.tar")]) {
      const imp = this.ctr(["images", "import", archive]);
      if (imp.status !== 0) throw new Error(`ctr images import: ${imp.stderr}`);
    }
    this.connect();
    // The CRI plugin loads the CNI config asynchronously: wait until it says the network is ready.
    for (let i = 0; i < 100; i++) {
      const st = await this.runtime.Status({});
      if (st.status.conditions.every((c: { status: boolean }) => c.status)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`CRI runtime not ready: ${JSON.stringify((await this.runtime.Status({})).status)}`);
  }

  /** containerd's own log, for a failure message. */
  log(): string {
    return readFileSync(join(this.dir, "containerd.log"), "utf8");
  }

  /** `ctr` on this containerd, in the CRI plugin's namespace k8s.io. */
  ctr(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("/usr/bin/ctr", ["--address", this.socket, "--namespace", "k8s.io", ...args], { encoding: "utf8", timeout: 60_000, env: { PATH } });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** Talk to the streaming server (the URL of an Exec or Attach answer) from inside containerd's network
   *  namespace, where it listens: send `stdin`, read until the server closes, `until` is seen on stdout or
   *  the timeout. status: the v4 error channel's JSON (a Status), "" when it sent none. */
  stream(url: string, stdin: string, until: string, timeoutMs: number): { stdout: string; stderr: string; status: string; closed: boolean } {
    const r = spawnSync(NSENTER, [`--net=${this.netns}`, "--", process.execPath, join(TOP, "test/helpers/cri/ws-stream.mjs"), url, stdin, until, String(timeoutMs)], {
      encoding: "utf8",
      timeout: timeoutMs + 10_000,
    });
    if (r.status !== 0) throw new Error(`ws-stream.mjs exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** The state root the shim gives a handler's runtime (`--root <this>/k8s.io`). */
  runtimeRoot(handler: string): string {
    return join(this.dir, `${handler}-root`);
  }

  private config(): string {
    const d = this.dir;
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const lines = [
      "version = 2",
      `root = "${d}/root"`,
      `state = "${d}/state"`,
      "[grpc]",
      `  address = "${this.socket}"`,
      "[ttrpc]",
      `  address = "${this.socket}.ttrpc"`,
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${d}/opt"`,
      `[${cri}]`,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      // Pod netns mounts under our state dir, not /run/netns.
      "  netns_mounts_under_state_dir = true",
      // No CAP_SYS_RESOURCE here: the pause container's default -998 would be refused.
      "  restrict_oom_score_adj = true",
      "  disable_apparmor = true",
      "  tolerate_missing_hugetlb_controller = true",
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `  [${cri}.cni]`,
      `    bin_dir = "${CNI_BIN}"`,
      `    conf_dir = "${d}/cni"`,
      "    max_conf_num = 1",
      `  [${cri}.containerd]`,
      '    snapshotter = "overlayfs"',
      '    default_runtime_name = "runc"',
    ];
    for (const [name, binary] of this.handlers) {
      lines.push(
        `    [${cri}.containerd.runtimes.${name}]`,
        '      runtime_type = "io.containerd.runc.v2"',
        `      [${cri}.containerd.runtimes.${name}.options]`,
        `        BinaryName = "${binary}"`,
        `        Root = "${this.runtimeRoot(name)}"`,
        `        SystemdCgroup = ${this.options.systemdCgroup ?? false}`,
      );
    }
    return lines.join("\n") + "\n";
  }

  private writeCni(): void {
    mkdirSync(join(this.dir, "cni"));
    const conf = {
      cniVersion: "1.0.0",
      name: this.network,
      plugins: [
        {
          type: "bridge",
          bridge: "tsrcri0",
          isGateway: true,
          ipMasq: false,
          ipam: { type: "host-local", ranges: [[{ subnet: "10.77.0.0/24" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(this.dir, "ipam") },
        },
      ],
    };
    writeFileSync(join(this.dir, "cni/10-tsrun.conflist"), JSON.stringify(conf, null, 2));
  }

  /** The two image archives: a static pause program alone, and the busybox rootfs. */
  private importables(): void {
    const pauseRoot = join(this.dir, "pause-rootfs");
    mkdirSync(pauseRoot);
    run("gcc", ["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", join(pauseRoot, "pause"), join(TOP, "test/helpers/cri/pause.c")]);
    ociArchive(join(this.dir, "pause-image"), PAUSE_IMAGE, pauseRoot, { Entrypoint: ["/pause"] });
    ociArchive(join(this.dir, "busybox-image"), CRI_IMAGE);
  }

  private connect(): void {
    const def = protoLoader.loadSync(join(TOP, "test/helpers/cri/runtime-v1.proto"), { keepCase: false, longs: Number, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as any;
    const wrap = (Ctor: any): CriService => {
      const client = new Ctor(`unix://${this.socket}`, grpc.credentials.createInsecure());
      this.clients.push(client);
      const out: CriService = {};
      for (const name of Object.keys(Ctor.service)) {
        out[name] = (req: object) =>
          new Promise((resolve, reject) =>
            client[name](req, { deadline: Date.now() + 120_000 }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))),
          );
      }
      return out;
    };
    this.runtime = wrap(pkg.runtime.v1.RuntimeService);
    this.image = wrap(pkg.runtime.v1.ImageService);
  }

  /** Remove every pod, stop the daemon, and return what was left behind (then removed or killed).
   *  TSRUN_CRI_LOG=<file> keeps containerd's log there. */
  async cleanup(): Promise<string[]> {
    const leaks: string[] = [];
    if (this.daemon && this.daemon.exitCode === null) {
      try {
        for (const p of (await this.runtime.ListPodSandbox({})).items) {
          await this.runtime.StopPodSandbox({ podSandboxId: p.id }).catch(() => undefined);
          await this.runtime.RemovePodSandbox({ podSandboxId: p.id }).catch((e: Error) => leaks.push(`RemovePodSandbox ${p.id}: ${e.message}`));
        }
        const left = (await this.runtime.ListContainers({})).containers;
        if (left.length) leaks.push(`CRI containers: ${left.map((c: { id: string }) => c.id).join(" ")}`);
      } catch (e) {
        leaks.push(`CRI cleanup: ${(e as Error).message}`);
      }
      for (const c of this.clients) c.close();
      const tasks = this.ctr(["tasks", "ls", "-q"]).stdout.trim();
      if (tasks) leaks.push(`containerd tasks: ${tasks}`);
      const exited = new Promise((r) => this.daemon!.once("exit", r));
      this.daemon.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (this.daemon.exitCode === null && this.daemon.signalCode === null) {
        leaks.push("containerd did not stop on SIGTERM");
        this.daemon.kill("SIGKILL");
      }
    }
    for (const [handler] of this.handlers) {
      const root = join(this.runtimeRoot(handler), "k8s.io");
      if (existsSync(root)) for (const id of readdirSync(root)) leaks.push(`${handler} state ${id}`);
    }
    const inOurCgroup = (cg: string) => cg.includes(`${this.cgroupParent}/`);
    // The netns file is ours to unmount. Whatever a failed test left running (a shim, a container's processes) is reported, then killed, so
    // that nothing outlives the test even when it fails.
    spawnSync("umount", [this.netns]);
    const procs = mountsAndProcessesUnder(this.dir, inOurCgroup);
    leaks.push(...procs);
    for (const line of procs) {
      const pid = Number(/^process (\d+):/.exec(line)?.[1]);
      if (pid) spawnSync("kill", ["-9", String(pid)]);
      // A killed shim leaves its socket in the host's /run/containerd/s, named by the sha256 of
      // <containerd address>/<namespace>/<id> (containerd 1.6's shim.SocketAddress).
      const id = / -id (\S+)/.exec(line)?.[1];
      if (line.includes("containerd-shim") && id) rmSync(join("/run/containerd/s", sha256(join(this.socket, "k8s.io", id))), { force: true });
    }
    if (procs.some((l) => l.startsWith("process "))) await new Promise((r) => setTimeout(r, 500));
    // Anything still mounted under the directory was reported and unmounted by mountsAndProcessesUnder;
    // a mount a killed process held may come loose only now.
    unmountUnder(this.dir);
    // Under systemd the pod's slice and scopes are units: the caller checks and stops them.
    const hierarchies = this.options.systemdCgroup ? [] : ["", ...readdirSync("/sys/fs/cgroup")];
    for (const h of hierarchies) {
      const parent = join("/sys/fs/cgroup", h, this.cgroupParent);
      if (!existsSync(parent) || !statSync(parent).isDirectory()) continue;
      for (const sub of readdirSync(parent, { withFileTypes: true })) {
        if (!sub.isDirectory()) continue;
        leaks.push(`cgroup ${join(parent, sub.name)}`);
        removeCgroupTree(join(parent, sub.name));
      }
      try {
        rmdirSync(parent);
      } catch {
        leaks.push(`cgroup ${parent} could not be removed`);
      }
    }
    if (process.env.TSRUN_CRI_LOG) writeFileSync(process.env.TSRUN_CRI_LOG, this.log());
    // libcni keeps a result per attachment until its DEL: one left means a pod's network was not torn down.
    const cache = "/var/lib/cni/results";
    if (existsSync(cache)) for (const f of readdirSync(cache)) if (f.startsWith(`${this.network}-`)) leaks.push(`CNI cache ${f}`), rmSync(join(cache, f));
    rmSync(this.dir, { recursive: true, force: true });
    return leaks;
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** rmdir a cgroup directory and its children, deepest first (a cgroup dir holds only control files). */
function removeCgroupTree(dir: string): void {
  for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) removeCgroupTree(join(dir, sub.name));
  try {
    rmdirSync(dir);
  } catch {
    // still populated: reported by the caller
  }
}

function run(file: string, args: string[]): string {
  const r = spawnSync(file, args, { encoding: "utf8", env: { PATH }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}
