// A private containerd for tests: its own config, socket, root and state directories under a temporary
// directory, the CRI plugin off, started and stopped by pid. ctr talks to it on that socket in a
// namespace of the test's own; the image is imported from an OCI archive made here from the busybox
// rootfs. Containers made by `ctr run` get a new, empty network namespace: nothing reaches the host's.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mountsAndProcessesUnder } from "./host.js";
import { ROOTFS } from "./tsrun.js";

export const CTR_IMAGE = "localhost/tsrun-busybox:test";

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let envSeq = 0;
export class ContainerdEnv {
  readonly dir = mkdtempSync(join(tmpdir(), "tsrun-ctrd-"));
  readonly socket = join(this.dir, "containerd.sock");
  /** The containerd namespace: also the first component of every container's cgroup path. */
  readonly ns = `tsrun-t${process.pid}-${envSeq++}`;
  private daemon?: ChildProcess;

  /** runtime: the runc-compatible binary the runc v2 shim is told to use (ctr run --runc-binary). */
  constructor(readonly runtime: string) {}

  async start(): Promise<void> {
    const d = this.dir;
    writeFileSync(
      join(d, "config.toml"),
      [
        "version = 2",
        `root = "${d}/root"`,
        `state = "${d}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${this.socket}"`,
        "[ttrpc]",
        `  address = "${this.socket}.ttrpc"`,
        "[debug]",
        '  address = ""',
        "[metrics]",
        '  address = ""',
        "",
      ].join("\n"),
    );
    const log = openSync(join(d, "containerd.log"), "a");
    this.daemon = spawn("/usr/bin/containerd", ["--config", join(d, "config.toml")], {
      stdio: ["ignore", log, log],
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    for (let i = 0; i < 200; i++) {
      if (existsSync(this.socket) && this.ctr(["version"]).status === 0) break;
      if (this.daemon.exitCode !== null) throw new Error(`containerd exited: ${readFileSync(join(d, "containerd.log"), "utf8")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const archive = ociArchive(join(d, "image"), CTR_IMAGE);
    const imp = this.ctr(["images", "import", archive]);
    if (imp.status !== 0) throw new Error(`ctr images import: ${imp.stderr}`);
  }

  /** `ctr` on this containerd, in this environment's namespace. */
  ctr(args: string[], opts: { timeout?: number; input?: string } = {}): Run {
    const r = spawnSync("/usr/bin/ctr", ["--address", this.socket, "--namespace", this.ns, ...args], {
      encoding: "utf8",
      timeout: opts.timeout ?? 60_000,
      input: opts.input,
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** The argv of a ctr call, for a test that drives it through a pty. */
  ctrArgv(args: string[]): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
    return { file: "/usr/bin/ctr", args: ["--address", this.socket, "--namespace", this.ns, ...args], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } };
  }

  /** The shim's log.json for a task: every runtime call on it appends its JSON error lines there. */
  taskLog(id: string): string {
    return join(this.dir, "state/io.containerd.runtime.v2.task", this.ns, id, "log.json");
  }

  /** Remove every task, container and image, stop the daemon, and return what was left behind. */
  async cleanup(): Promise<string[]> {
    const leaks: string[] = [];
    if (this.daemon && this.daemon.exitCode === null) {
      for (const id of this.ctr(["tasks", "ls", "-q"]).stdout.split("\n").filter(Boolean)) this.ctr(["tasks", "rm", "-f", id]);
      for (const id of this.ctr(["containers", "ls", "-q"]).stdout.split("\n").filter(Boolean)) this.ctr(["containers", "rm", id]);
      const left = this.ctr(["containers", "ls", "-q"]).stdout.trim();
      if (left) leaks.push(`containerd containers: ${left}`);
      for (const ref of this.ctr(["images", "ls", "-q"]).stdout.split("\n").filter(Boolean)) this.ctr(["images", "rm", "--sync", ref]);
      this.ctr(["namespaces", "rm", this.ns]);
      const exited = new Promise((r) => this.daemon!.once("exit", r));
      this.daemon.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (this.daemon.exitCode === null && this.daemon.signalCode === null) {
        leaks.push("containerd did not stop on SIGTERM");
        this.daemon.kill("SIGKILL");
      }
    }
    leaks.push(...mountsAndProcessesUnder(this.dir, (cg) => cg.includes(`/${this.ns}/`)));
    // ctr's containers live in the cgroup /<namespace>/<id>: the ids must be gone; the namespace dir is ours.
    for (const h of readdirSync("/sys/fs/cgroup")) {
      const parent = join("/sys/fs/cgroup", h, this.ns);
      if (!existsSync(parent) || !statSync(parent).isDirectory()) continue;
      for (const sub of readdirSync(parent, { withFileTypes: true })) if (sub.isDirectory()) leaks.push(`cgroup ${join(parent, sub.name)}`);
      try {
        rmdirSync(parent);
      } catch {
        leaks.push(`cgroup ${parent}`);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    return leaks;
  }
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/**
 * An OCI image archive (image-spec image-layout, tarred) of a rootfs (the busybox one unless told) as
 * one uncompressed layer, its image name in the index annotation containerd reads. Returns the
 * archive's path. `config` is the image's runtime config (Env, Cmd, Entrypoint...).
 */
export function ociArchive(
  dir: string,
  name: string,
  rootfs: string = ROOTFS,
  config: Record<string, unknown> = { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"] },
): string {
  const blobs = join(dir, "layout/blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  const layer = spawnSync("tar", ["-C", rootfs, "--numeric-owner", "-c", "."], { maxBuffer: 1 << 30 }).stdout as Buffer;
  const put = (b: Buffer) => {
    const d = sha256(b);
    writeFileSync(join(blobs, d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const layerDesc = put(layer);
  const imageConfig = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", config, rootfs: { type: "layers", diff_ids: [layerDesc.digest] } }),
  );
  const configDesc = put(imageConfig);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configDesc },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layerDesc }],
    }),
  );
  const manifestDesc = put(manifest);
  writeFileSync(join(dir, "layout/oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "layout/index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifestDesc,
          annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.split(":").pop() },
        },
      ],
    }),
  );
  const archive = join(dir, "image.tar");
  const t = spawnSync("tar", ["-C", join(dir, "layout"), "-cf", archive, "."]);
  if (t.status !== 0) throw new Error("tar of the OCI layout failed");
  return archive;
}
