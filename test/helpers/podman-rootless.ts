// Rootless podman (with conmon) driving a runtime as an ordinary user the test makes: the rootless
// counterpart of PodmanEnv (podman.ts). Everything podman keeps is the user's: containers.conf and
// storage.conf in ~/.config/containers/ (where a rootless podman reads them, and the only place its
// graphroot setting is honoured), images and containers under ~/.local/share/containers/storage
// (native overlay: the kernel allows it in a user namespace), the runroot under XDG_RUNTIME_DIR.
// The image is imported as the user from a tar of the busybox rootfs, never downloaded. Containers
// get no network by default (netns = "none"): rootless networking needs slirp4netns or pasta, and
// nothing here needs a network, so the machine's network is never touched.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGE } from "./podman.js";
import { ROOTFS } from "./tsrun.js";
import type { TestUser } from "./users.js";

export { IMAGE };

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** True when rootless podman can run here: podman, conmon and the setuid newuidmap/newgidmap. */
export function haveRootlessPodman(): boolean {
  return ["/usr/bin/podman", "/usr/bin/conmon", "/usr/bin/newuidmap", "/usr/bin/newgidmap"].every((p) => existsSync(p));
}

const SETPRIV = "/usr/bin/setpriv";

export class RootlessPodmanEnv {
  readonly graphroot: string;
  readonly runroot: string;

  /** runtime: an absolute path (podman --runtime), readable and executable by the user; its basename
   *  must be in runtime_supports_json for podman to pass --log (the oci-log the tests read). */
  constructor(
    readonly user: TestUser,
    readonly runtime: string,
  ) {
    this.graphroot = join(user.home, ".local/share/containers/storage");
    this.runroot = join(user.runtimeDir, "containers");
    const conf = join(user.home, ".config/containers");
    mkdirSync(conf, { recursive: true });
    writeFileSync(
      join(conf, "containers.conf"),
      [
        "[containers]",
        // This machine's hard nofile limit is 20000 and nothing may raise it.
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        'netns = "none"',
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        'runtime_supports_json = ["crun", "runc", "tsrun"]',
        "",
      ].join("\n"),
    );
    writeFileSync(join(conf, "storage.conf"), ["[storage]", 'driver = "overlay"', `runroot = "${this.runroot}"`, `graphroot = "${this.graphroot}"`, ""].join("\n"));
    const tar = join(user.home, "busybox-rootfs.tar");
    const t = spawnSync("tar", ["-C", ROOTFS, "-cf", tar, "."]);
    if (t.status !== 0) throw new Error(`tar of ${ROOTFS} failed: ${t.stderr}`);
    user.chown(join(user.home, ".config"));
    user.chown(tar);
    const imp = this.podman(["import", tar, IMAGE]);
    rmSync(tar, { force: true });
    if (imp.status !== 0) throw new Error(`podman import as ${user.name}: ${imp.stderr}`);
  }

  /** `podman --runtime <runtime> args...` as the user. */
  podman(args: string[], opts: { timeout?: number } = {}): Run {
    const r = this.user.run("podman", ["--runtime", this.runtime, ...args], { timeout: opts.timeout ?? 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** The argv that runs podman as the user (for a test driving it through a pty). */
  podmanArgv(args: string[]): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
    const u = this.user;
    return {
      file: SETPRIV,
      args: ["--reuid", String(u.uid), "--regid", String(u.gid), "--init-groups", "--", "podman", "--runtime", this.runtime, ...args],
      env: u.env(),
    };
  }

  /** podman's per-container run directory (holds oci-log: what conmon passes to the runtime's --log). */
  userdata(id: string): string {
    return join(this.runroot, "overlay-containers", id, "userdata");
  }

  /** The last lines of every oci-log of the user's containers: the runtime's own words on a failure. */
  runtimeLogs(): string {
    const r = spawnSync("sh", ["-c", `tail -n 5 ${this.runroot}/overlay-containers/*/userdata/oci-log ${this.graphroot}/overlay-containers/*/userdata/*/oci-log 2>/dev/null`], { encoding: "utf8" });
    return r.stdout;
  }

  /** Remove every container and the user's whole storage (its files belong to subordinate ids: only
   *  podman, in its user namespace, can remove them), then the user with every process it has left
   *  (conmon, the pause process that holds rootless podman's user namespace). Returns what was left. */
  cleanup(): string[] {
    const leaks: string[] = [];
    this.podman(["rm", "-a", "-f", "-t", "0"]);
    const left = this.podman(["ps", "-a", "-q"]).stdout.trim();
    if (left) leaks.push(`podman containers: ${left.replace(/\n/g, " ")}`);
    const reset = this.podman(["system", "reset", "-f"]);
    if (reset.status !== 0) leaks.push(`podman system reset: ${reset.stderr.trim()}`);
    if (existsSync(join(this.graphroot, "overlay-containers"))) leaks.push(`storage left: ${this.graphroot}`);
    const u = this.user;
    // The pause process is expected; anything else of the user's still running is a leak.
    const procs = spawnSync("ps", ["-U", String(u.uid), "-o", "pid=,args="], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
    for (const p of procs) if (!/^\d+ podman$/.test(p.trim())) leaks.push(`process of ${u.name}: ${p.trim()}`);
    u.remove();
    if (spawnSync("pgrep", ["-U", String(u.uid)]).status === 0) leaks.push(`processes of ${u.name} survive its removal`);
    const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(u.home) || l.includes(u.runtimeDir));
    leaks.push(...mounts.map((m) => `mount: ${m}`));
    if (existsSync(u.home)) leaks.push(`home left: ${u.home}`);
    return leaks;
  }
}
