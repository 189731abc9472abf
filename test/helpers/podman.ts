// podman (with conmon) driving a runtime, in a private world: its own containers.conf and storage
// root under a temporary directory, the cgroupfs manager (or systemd's, for the systemd group: every
// call then says --cgroup-manager=systemd, and podman asks the runtime for --systemd-cgroup and
// cgroupsPath machine.slice:libpod:<id>), and every podman call made inside a network
// namespace created here (nsenter --net), so the CNI bridge, its iptables rules and published ports
// live in that namespace and the machine's own network is never touched. The image is imported from
// the busybox rootfs, never downloaded.
import { type SpawnSyncOptions, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IP, NSENTER, mountsAndProcessesUnder } from "./host.js";
import { ROOTFS } from "./tsrun.js";

export const IMAGE = "localhost/tsrun-busybox:test";
export const BUSYBOX = join(ROOTFS, "bin/busybox");

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** True when podman and conmon are installed (src/build/install-deps.sh --test installs them). */
export function havePodman(): boolean {
  return ["/usr/bin/podman", "/usr/bin/conmon"].every((p) => existsSync(p));
}

let envSeq = 0;
export class PodmanEnv {
  readonly dir = mkdtempSync(join(tmpdir(), "tsrun-podman-"));
  readonly netns = `tsrun-pm${process.pid}-${envSeq++}`;
  /** 10.89.<n>.0/24: one subnet per environment, inside its own network namespace anyway. */
  readonly subnet = `10.89.${(process.pid + envSeq) % 250}.0/24`;
  private readonly env: NodeJS.ProcessEnv;
  private readonly globals: string[];

  /** runtime: an absolute path (podman --runtime); its basename must be in runtime_supports_json. */
  constructor(
    readonly runtime: string,
    readonly opts: { cgroupManager?: "cgroupfs" | "systemd" } = {},
  ) {
    const manager = opts.cgroupManager ?? "cgroupfs";
    this.globals = ["--runtime", runtime, ...(manager === "systemd" ? ["--cgroup-manager=systemd"] : [])];
    const d = this.dir;
    const [a, b, c] = this.subnet.split(".");
    writeFileSync(
      join(d, "containers.conf"),
      [
        "[containers]",
        // This machine's hard nofile limit is 20000 and nothing may raise it (no CAP_SYS_RESOURCE).
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        "[network]",
        'network_backend = "cni"',
        `network_config_dir = "${d}/net"`,
        'default_network = "tsrun-test"',
        "[engine]",
        `cgroup_manager = "${manager}"`,
        'events_logger = "file"',
        `events_logfile_path = "${d}/events.log"`,
        `tmp_dir = "${d}/tmp"`,
        `volume_path = "${d}/volumes"`,
        'runtime_supports_json = ["crun", "runc", "tsrun"]',
        "",
      ].join("\n"),
    );
    writeFileSync(join(d, "storage.conf"), ["[storage]", 'driver = "overlay"', `runroot = "${d}/run"`, `graphroot = "${d}/graph"`, ""].join("\n"));
    spawnSync("mkdir", ["-p", join(d, "net"), join(d, "cni")]);
    // The CNI network: a bridge, leases in our own dataDir, port mappings and the firewall plugin,
    // all applied inside this.netns (podman runs there).
    writeFileSync(
      join(d, "net/tsrun-test.conflist"),
      JSON.stringify({
        cniVersion: "0.4.0",
        name: "tsrun-test",
        plugins: [
          {
            type: "bridge",
            bridge: "tspm0",
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: { type: "host-local", dataDir: join(d, "cni"), routes: [{ dst: "0.0.0.0/0" }], ranges: [[{ subnet: this.subnet, gateway: `${a}.${b}.${c}.1` }]] },
          },
          { type: "portmap", capabilities: { portMappings: true } },
          { type: "firewall" },
          { type: "tuning" },
        ],
      }),
    );
    this.env = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      CONTAINERS_CONF: join(d, "containers.conf"),
      CONTAINERS_STORAGE_CONF: join(d, "storage.conf"),
    };
    must(IP, ["netns", "add", this.netns]);
    must(IP, ["-n", this.netns, "link", "set", "lo", "up"]);
    const tar = spawnSync("tar", ["-C", ROOTFS, "-c", "."], { maxBuffer: 1 << 30 });
    if (tar.status !== 0) throw new Error(`tar of ${ROOTFS} failed`);
    const imp = this.podman(["import", "-", IMAGE], { input: tar.stdout });
    if (imp.status !== 0) throw new Error(`podman import: ${imp.stderr}`);
  }

  /** `podman --runtime <runtime> args...` in the environment's network namespace. */
  podman(args: string[], opts: { input?: string | Buffer; timeout?: number } & Pick<SpawnSyncOptions, "stdio"> = {}): Run {
    const r = spawnSync(NSENTER, [`--net=/run/netns/${this.netns}`, "--", "podman", ...this.globals, ...args], {
      env: this.env,
      input: opts.input,
      timeout: opts.timeout ?? 60_000,
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** The argv that runs podman in this environment (for a test driving it through a pty). */
  podmanArgv(args: string[]): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
    return { file: NSENTER, args: [`--net=/run/netns/${this.netns}`, "--", "podman", ...this.globals, ...args], env: this.env };
  }

  /** A command run in the environment's network namespace (e.g. busybox wget of a published port). */
  inNetns(argv: string[]): Run {
    const r = spawnSync(NSENTER, [`--net=/run/netns/${this.netns}`, "--", ...argv], { encoding: "utf8", timeout: 30_000 });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** podman's per-container run directory (holds oci-log: what conmon passes to the runtime's --log). */
  userdata(id: string): string {
    return join(this.dir, "run/overlay-containers", id, "userdata");
  }

  /** Remove every container, image and mount, the namespace and the directory; return what was left. */
  cleanup(): string[] {
    const leaks: string[] = [];
    this.podman(["rm", "-a", "-f", "-t", "0"]);
    const left = this.podman(["ps", "-a", "-q"]).stdout.trim();
    if (left) leaks.push(`podman containers: ${left.replace(/\n/g, " ")}`);
    this.podman(["system", "reset", "-f"]);
    spawnSync(IP, ["netns", "del", this.netns]);
    leaks.push(...mountsAndProcessesUnder(this.dir));
    // podman's cgroupfs parent (and conmon's cgroup in it): shared by every podman container, so only
    // removed when empty; the containers' own cgroups must be gone.
    for (const h of readdirSync("/sys/fs/cgroup")) {
      const parent = join("/sys/fs/cgroup", h, "libpod_parent");
      if (!existsSync(parent)) continue;
      for (const sub of readdirSync(parent, { withFileTypes: true })) {
        if (sub.isDirectory() && sub.name.startsWith("libpod-")) leaks.push(`cgroup ${join(parent, sub.name)}`);
      }
      for (const p of [join(parent, "conmon"), parent]) {
        try {
          rmdirSync(p);
        } catch {
          // busy (another podman user) or already gone
        }
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    return leaks;
  }
}

function must(file: string, args: string[]): void {
  const r = spawnSync(file, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")}: ${r.stderr}`);
}
