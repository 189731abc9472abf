// Helpers for integration tests: run the built bin/tsrun as a manager would (no PATH, no HOME),
// with bundles made from the busybox rootfs, and check that nothing is left behind.
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const TOP = resolve(__dirnameOf(import.meta.url), "../..");
export const TSRUN = join(TOP, "bin/tsrun");
export const INIT = join(TOP, "bin/tsrun-init");
export const ROOTFS = join(TOP, "bundles/busybox/rootfs");

function __dirnameOf(url: string): string {
  return new URL(".", url).pathname;
}

/** Make sure the binaries and the busybox rootfs exist (CI builds them first; this covers a bare `npm test`). */
export function ensureBuilt(): void {
  if (!existsSync(TSRUN) || !existsSync(INIT)) {
    const r = spawnSync(process.execPath, [join(TOP, "src/build/build.mjs")], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("build failed");
  }
  if (!existsSync(join(ROOTFS, "bin/busybox"))) {
    const r = spawnSync("bash", [join(TOP, "bundles/build-all.sh")], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("bundles/build-all.sh failed");
  }
}

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Files that received the call's stdout/stderr (a created container keeps writing to them). */
  outFile: string;
  errFile: string;
}

let seq = 0;
/** A private scratch directory and state root for one test file; removed by cleanup(). */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), "tsrun-test-"));
  readonly root = join(this.dir, "state");
  readonly ids = new Set<string>();

  /** A unique container id for this test file. */
  id(name: string): string {
    const id = `t${process.pid}-${name}-${seq++}`;
    this.ids.add(id);
    return id;
  }

  /**
   * Run bin/tsrun with this scratch root. stdout/stderr go to files, not pipes: a created container
   * keeps the create's stdio open, and a pipe would hold the call until the container exits.
   */
  tsrun(args: string[], opts: SpawnSyncOptions & { global?: string[]; stdin?: string } = {}): Result {
    return this.command(TSRUN, [...(opts.global ?? []), "--root", this.root, ...args], opts);
  }

  /** Run `file args` as tsrun() runs bin/tsrun (output to files, no environment, killed after 30 s): for
   *  another runtime, or bin/tsrun behind a wrapper such as unshare. */
  command(file: string, args: string[], opts: SpawnSyncOptions & { stdin?: string } = {}): Result {
    const n = seq++;
    const out = join(this.dir, `out.${n}`);
    const err = join(this.dir, `err.${n}`);
    const o = openSync(out, "w");
    const e = openSync(err, "w");
    try {
      const r = spawnSync(file, args, {
        env: {},
        cwd: this.dir,
        timeout: 30_000,
        // A hung call must fail the test, not hang it: TERM would be forwarded to the container and
        // spawnSync would wait for an exit that may never come.
        killSignal: "SIGKILL",
        ...opts,
        input: opts.stdin,
        stdio: [opts.stdin === undefined ? "ignore" : "pipe", o, e, ...((opts.stdio as unknown[]) ?? []).slice(3)] as SpawnSyncOptions["stdio"],
      });
      return { status: r.status, signal: r.signal, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8"), outFile: out, errFile: err };
    } finally {
      closeSync(o);
      closeSync(e);
    }
  }

  /**
   * A bundle directory with config.json made from bundles/busybox/config.json, changed by `edit`.
   * root.path is the shared busybox rootfs (absolute) unless `edit` changes it.
   */
  bundle(edit: (c: any) => void = () => {}): string {
    const dir = join(this.dir, `bundle${seq++}`);
    mkdirSync(dir);
    const config = JSON.parse(readFileSync(join(TOP, "bundles/busybox/config.json"), "utf8"));
    config.root = { path: ROOTFS, readonly: true };
    config.process.args = ["/bin/true"];
    edit(config);
    writeFileSync(join(dir, "config.json"), JSON.stringify(config, null, 2));
    return dir;
  }

  state(id: string): any {
    const r = this.tsrun(["state", id]);
    if (r.status !== 0) throw new Error(`state ${id} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** Delete every container this file made, then check nothing of them is left; remove the scratch dir. */
  cleanup(): string[] {
    for (const id of this.ids) this.tsrun(["delete", "--force", id]);
    const leaks = leftovers(this.root, [...this.ids]);
    rmSync(this.dir, { recursive: true, force: true });
    return leaks;
  }
}

/** What of these containers is still on the machine: state dirs, cgroups, processes, mounts. */
export function leftovers(root: string, ids: string[]): string[] {
  const leaks: string[] = [];
  if (existsSync(root)) for (const d of readdirSync(root)) leaks.push(`state dir ${join(root, d)}`);
  // v1 and hybrid: /sys/fs/cgroup/<hierarchy>/tsrun/<id>; unified (v2 only): /sys/fs/cgroup/tsrun/<id>.
  const parents = [...readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h, "tsrun")), "/sys/fs/cgroup/tsrun"];
  for (const parent of parents) {
    for (const id of ids) {
      const p = join(parent, id);
      if (existsSync(p)) leaks.push(`cgroup ${p}`);
    }
  }
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
  if (mountinfo.includes(root)) leaks.push(`mount under ${root}`);
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const cgroup = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      const zombie = /\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      const ours = ids.some((id) => cgroup.includes(`/tsrun/${id}\n`));
      if (!zombie && (cmd.includes(root) || ours)) leaks.push(`process ${pid}: ${cmd.replace(/\0/g, " ")}`);
    } catch {
      // exited while we looked
    }
  }
  return leaks;
}

/** Read a file written by a container process, waiting briefly for it to appear complete. */
export function waitFor<T>(fn: () => T | undefined, timeoutMs = 5000): T {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out waiting");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}
