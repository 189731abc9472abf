// Ordinary users for the rootless tests: made by the test (useradd), with a home, an
// XDG_RUNTIME_DIR of their own and, when asked, subordinate id ranges in /etc/subuid and /etc/subgid;
// removed by remove() with everything they own. Names start with "tsrt" so the suite's leak check
// (test/run-all.sh) finds any left behind.
import { type SpawnSyncOptions, spawnSync } from "node:child_process";
import { chownSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOTFS, TSRUN } from "./tsrun.js";

export const USER_PREFIX = "tsrt";
const SETPRIV = "/usr/bin/setpriv";

export interface AsUserResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class TestUser {
  readonly home: string;
  /** The user's XDG_RUNTIME_DIR (0700, theirs), as pam_systemd would make /run/user/<uid>. */
  readonly runtimeDir: string;

  constructor(
    readonly name: string,
    readonly uid: number,
    readonly gid: number,
    readonly subids?: { start: number; count: number },
  ) {
    this.home = `/home/${name}`;
    this.runtimeDir = `/run/user/${uid}`;
  }

  /** The environment a login shell of this user would have. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      HOME: this.home,
      USER: this.name,
      LOGNAME: this.name,
      PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
      XDG_RUNTIME_DIR: this.runtimeDir,
      ...extra,
    };
  }

  /** Run `file args` as this user (real, effective and saved ids; their groups; no capabilities).
   *  stdout/stderr go to files: a created container keeps the caller's stdio open.
   *  `cgroup`: a cgroup v2 directory root moves the process into first, before it becomes the user (as
   *  the consh talk's setup does with sudo): the user's process then sits in a delegated subtree, where
   *  the kernel lets it move processes into cgroups of its own. */
  run(file: string, args: string[], opts: SpawnSyncOptions & { env?: NodeJS.ProcessEnv; stdin?: string; cgroup?: string } = {}): AsUserResult {
    const base = join(this.home, `.out.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}`);
    const o = openSync(`${base}.1`, "w");
    const e = openSync(`${base}.2`, "w");
    const asUser = [SETPRIV, "--reuid", String(this.uid), "--regid", String(this.gid), "--init-groups", "--", file, ...args];
    const [cmd, ...argv] = opts.cgroup ? ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', opts.cgroup, ...asUser] : asUser;
    try {
      const r = spawnSync(cmd, argv, {
        cwd: this.home,
        timeout: 60_000,
        killSignal: "SIGKILL",
        ...opts,
        env: opts.env ?? this.env(),
        input: opts.stdin,
        stdio: [opts.stdin === undefined ? "ignore" : "pipe", o, e],
      });
      return { status: r.status, signal: r.signal, stdout: readFileSync(`${base}.1`, "utf8"), stderr: readFileSync(`${base}.2`, "utf8") };
    } finally {
      closeSync(o);
      closeSync(e);
      rmSync(`${base}.1`, { force: true });
      rmSync(`${base}.2`, { force: true });
    }
  }

  /** Give the user a file or tree (the tests make bundles as root, then hand them over). */
  chown(path: string): void {
    const r = spawnSync("chown", ["-R", `${this.uid}:${this.gid}`, path]);
    if (r.status !== 0) throw new Error(`chown ${path}: ${r.stderr}`);
  }

  /** Kill every process of the user, remove the user, its home, runtime dir and subordinate ids. */
  remove(): string[] {
    const left: string[] = [];
    const pk = spawnSync("pkill", ["-KILL", "-U", String(this.uid)]);
    if (pk.status === 0) left.push(`processes of ${this.name}`);
    // pkill returns before the kernel has reaped them: userdel refuses a user with processes.
    for (let i = 0; i < 50 && spawnSync("pgrep", ["-U", String(this.uid)]).status === 0; i++) spawnSync("sleep", ["0.1"]);
    spawnSync("umount", ["-R", "-l", this.runtimeDir]);
    rmSync(this.runtimeDir, { recursive: true, force: true });
    spawnSync("userdel", ["-r", "-f", this.name]);
    rmSync(this.home, { recursive: true, force: true });
    for (const f of ["/etc/subuid", "/etc/subgid"]) dropLines(f, this.name);
    return left;
  }
}

let seq = 0;

/**
 * A new user, unique to this process. `subids`: also give it 65536 subordinate uids and gids (what
 * rootless podman and multi-range maps need), from a range no other test user of this run has.
 */
export function makeTestUser(opts: { subids?: boolean } = {}): TestUser {
  const n = seq++;
  const name = `${USER_PREFIX}${process.pid % 100000}${n}`;
  const r = spawnSync("useradd", ["-m", "-U", "-s", "/bin/sh", name], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
  const uid = Number(spawnSync("id", ["-u", name], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim());
  let subids: { start: number; count: number } | undefined;
  if (opts.subids) {
    // useradd may have added ranges itself (SUB_UID_MIN in login.defs): one range of ours, theirs dropped.
    const start = 200000 + ((process.pid % 500) * 8 + n) * 65536;
    subids = { start, count: 65536 };
    for (const f of ["/etc/subuid", "/etc/subgid"]) {
      dropLines(f, name);
      writeFileSync(f, `${name}:${start}:65536\n`, { flag: "a" });
    }
  } else {
    for (const f of ["/etc/subuid", "/etc/subgid"]) dropLines(f, name);
  }
  const u = new TestUser(name, uid, gid, subids);
  // /run/user as pam_systemd makes it (0755): a recursive mkdir of the runtime dir alone would make it
  // 0700, root's, and no user could reach its own dir (a fresh /run, as in the cgroup-v2 VM).
  mkdirSync(dirname(u.runtimeDir), { recursive: true, mode: 0o755 });
  mkdirSync(u.runtimeDir, { recursive: true, mode: 0o700 });
  chownSync(u.runtimeDir, uid, gid);
  return u;
}

function dropLines(file: string, name: string): void {
  if (!existsSync(file)) return;
  const lines = readFileSync(file, "utf8").split("\n");
  const kept = lines.filter((l) => !l.startsWith(`${name}:`));
  if (kept.length !== lines.length) writeFileSync(file, kept.join("\n"));
}

/** Test users this run's leak check would report (any left by a crashed test file). */
export function leftoverTestUsers(): string[] {
  return readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":")[0])
    .filter((n) => n.startsWith(USER_PREFIX));
}

/**
 * A bundle at `dir` (a new directory the user can write in) as the user would make one: the busybox
 * rootfs, `tsrun spec --rootless` run as the user (so the maps are the user's ids), then `args` with no
 * terminal and `edit`. Everything in it is the user's.
 */
export function rootlessBundle(u: TestUser, dir: string, args: string[], edit: (c: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  mkdirSync(dir, { recursive: true });
  cpSync(ROOTFS, join(dir, "rootfs"), { recursive: true, verbatimSymlinks: true });
  u.chown(dir);
  const spec = u.run(TSRUN, ["spec", "--rootless", "--bundle", dir]);
  if (spec.status !== 0 || spec.stderr !== "") throw new Error(`tsrun spec --rootless as ${u.name}: exit ${spec.status}: ${spec.stderr}`);
  const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  c.process.terminal = false;
  c.process.args = args;
  edit(c);
  writeFileSync(join(dir, "config.json"), JSON.stringify(c));
  u.chown(dir);
  return dir;
}
