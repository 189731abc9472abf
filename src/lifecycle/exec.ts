import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConfigError, ContainerStateError, HostError, PathError, UsageError } from "../errors.js";
import { CgroupSet } from "../cgroups/cgroupfs.js";
import { parseSubCgroups } from "../cgroups/sub-cgroup.js";
import { launchInit, type SyncData } from "../init/launch.js";
import { initPath } from "../init/locate.js";
import { encodePlan } from "../launch/encode.js";
import { buildExecPlan, type JoinedNamespace, NS_PROC_NAMES } from "../plan/exec-plan.js";
import { mapsId, parseIdMap } from "../plan/namespaces.js";
import { type ExecFlags, execProcessFromFlags, processFlagsGiven } from "../plan/exec-process.js";
import { homeIn } from "../plan/process.js";
import { checkConsoleFlags, planTerminal } from "../plan/terminal.js";
import { refuseUnsupported } from "../plan/unsupported.js";
import { CAPABILITIES } from "../security/capabilities.js";
import { compileSeccomp } from "../security/seccomp/compile.js";
import { containerProcessState } from "../security/seccomp/process-state.js";
import { savedSeccomp } from "../security/seccomp/saved.js";
import { loadBundle, parseJson } from "../spec/load.js";
import type { Process } from "../spec/types.js";
import { validateProcess } from "../spec/validate.js";
import { isSameLiveProcess } from "../state/proc.js";
import type { ContainerRecord } from "../state/store.js";
import type { RuntimeContext } from "./context.js";
import { crashPoint } from "./faults.js";
import { writePidFile } from "./pid-file.js";
import { hostCapabilities, hostLimits, lastCap, onlineCpus } from "./host.js";
import { FORWARDED } from "./signals.js";

export interface ExecOptions extends ExecFlags {
  id: string;
  /** --process: a runtime-spec Process object (JSON) instead of the command and the flags. */
  processFile?: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  /** --cgroup: sub-cgroups of the container's cgroup to run in (src/cgroups/sub-cgroup.ts). */
  cgroups?: readonly string[];
  /** --ignore-paused: exec into a paused container; the process is frozen with it until `resume`. */
  ignorePaused?: boolean;
  /** Tests only: called at the sync point with the host pid of the joining process, which waits there,
   *  in every namespace of the container, until this returns. */
  atSync?: (pid: number) => Promise<void> | void;
}

/**
 * exec: run one more process in a created or running container, in every namespace and the cgroup of
 * its init, confined by the process's own settings (plan: src/plan/exec-plan.ts). Without `detach`,
 * waits and returns the process's exit status (128+N when signal N killed it); with it, returns 0 once
 * the process runs. The pid file gets the process's host pid in both cases, as runc writes it.
 */
export async function execInContainer(ctx: RuntimeContext, opts: ExecOptions): Promise<number> {
  const { store } = ctx;
  const t0 = performance.now();
  const rec = store.read(opts.id);
  checkStatus(rec.id, store.status(rec), opts.ignorePaused);
  const subCgroups = parseSubCgroups(opts.cgroups ?? []);
  const hostCaps = hostCapabilities();
  const { proc, source } = execProcess(opts, rec, hostCaps);
  // runc's rules: a terminal of a detached process goes to a console socket; one of a process tsrun
  // waits for is attached to the caller's terminal.
  const consoleSocket = opts.consoleSocket !== undefined ? resolve(opts.consoleSocket) : undefined;
  checkConsoleFlags(proc.terminal === true, consoleSocket, opts.detach === true);
  const field = opts.processFile === undefined ? "/process" : "";

  // A foreground exec passes the caller's signals on to its process. The handlers go in before the
  // process exists (as runc's signal handler does): a TERM that came between its start and a later
  // handler would end tsrun by default and leave the process behind. What comes before the pid is known
  // is passed on once it is.
  const forwarder = opts.detach ? undefined : new SignalForwarder(FORWARDED.filter((s) => !(proc.terminal && s === "SIGWINCH")));
  try {
    return await execLocked();
  } finally {
    forwarder?.stop();
  }

  async function execLocked(): Promise<number> {
    let unlock: (() => void) | undefined = store.lock(rec.id);
    crashPoint("exec", "locked");
    let pid: number;
    let exited: Promise<number>;
    try {
      // Again under the lock: a delete or a pause may have come in between.
      const status = store.status(rec);
      checkStatus(rec.id, status, opts.ignorePaused);
      const cgroupJoin = new CgroupSet(rec.cgroupPath).joinPlan(false, subCgroups);
      if (subCgroups.size) requireCgroupDirs([cgroupJoin.cloneInto, ...cgroupJoin.selfTasks.map(dirname)]);
      const namespaces = containerNamespaces(rec);
      // Exec'd processes are confined by the container's seccomp profile too (runc's exec does the same).
      const seccompProfile = savedSeccomp(store.dir(rec.id));
      if (!proc.env?.some((e) => e.startsWith("HOME="))) proc.env = [...(proc.env ?? []), `HOME=${containerHome(rec.pid, proc.user.uid)}`];
      const plan = inSource(source, opts.processFile !== undefined, () => {
        // The pty comes from the container's devpts; /dev/console stays the init's.
        const terminal = proc.terminal
          ? planTerminal({ consoleSocket, foreground: !opts.detach, consoleSize: proc.consoleSize, uid: proc.user.uid, mountConsole: false, field })
          : undefined;
        return buildExecPlan({
          process: proc,
          namespaces,
          cgroupJoin,
          hostCaps,
          lastCap: lastCap(),
          usernsRoot: namespaces.some((n) => n.type === "user") && usernsMapsRoot(rec.pid),
          hostLimits: hostLimits(),
          onlineCpus: onlineCpus(),
          sessionKeyring: rec.noNewKeyring ? undefined : rec.id,
          seccomp: seccompProfile && compileSeccomp(seccompProfile),
          preserveFds: opts.preserveFds ?? 0,
          foreground: !opts.detach,
          field,
          stage0: terminal?.stage0,
          joined: terminal?.child,
        });
      });
      ctx.debug(`exec ${rec.id}: ${plan.records.length} records, joining ${namespaces.map((n) => n.type).join(",") || "no namespace"} at ${(performance.now() - t0).toFixed(2)} ms`);
      // Paused (--ignore-paused): the process freezes as it joins the cgroup and goes on only at `resume`,
      // which takes this lock. Hold it no longer; the check at the sync still makes sure that the
      // namespaces joined were the init's.
      if (status === "paused") {
        unlock();
        unlock = undefined;
      }
      const launched = await launchInit({
        initPath: initPath(),
        plan: encodePlan(plan.records),
        preserveFds: opts.preserveFds ?? 0,
        foreground: !opts.detach,
        onSync: async (_tag, child) => {
          // The child holds the namespaces it opened by pid: make sure they were the init's. A pid
          // reused between the status check and those opens shows a different start time now.
          if (!isSameLiveProcess(rec.pid, rec.pidStartTime)) throw new ContainerStateError(rec.id, "cannot exec in a stopped container");
          await opts.atSync?.(child);
          crashPoint("exec", "sync");
          const slots: SyncData = [];
          if (plan.seccompListener) {
            slots[plan.seccompListener.slot] = containerProcessState(rec, child, plan.seccompListener.metadata, { status: store.status(rec), pid: rec.pid });
          }
          return slots;
        },
      });
      pid = launched.pid;
      exited = launched.exited;
    } finally {
      unlock?.();
    }
    ctx.debug(`exec ${rec.id}: process ${pid} started at ${(performance.now() - t0).toFixed(2)} ms`);
    crashPoint("exec", "started");
    if (opts.pidFile) {
      try {
        writePidFile(resolve(opts.pidFile), pid);
      } catch (e) {
        // As runc: an exec that cannot report its pid has failed, and its process goes with it.
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
        if (!opts.detach) await exited;
        throw e;
      }
    }
    if (opts.detach) return 0;
    forwarder!.target(pid);
    return await exited;
  }
}

/** The caller's signals, passed on to one process; those that come before it is known, once it is. */
class SignalForwarder {
  private pid: number | undefined;
  private readonly pending: NodeJS.Signals[] = [];
  private readonly handler = (sig: NodeJS.Signals) => {
    if (this.pid === undefined) this.pending.push(sig);
    else this.send(sig);
  };

  /** An attached terminal leaves SIGWINCH out: tsrun-init passes window changes to the pty itself. */
  constructor(private readonly signals: readonly NodeJS.Signals[]) {
    for (const s of signals) process.on(s, this.handler);
  }

  target(pid: number): void {
    this.pid = pid;
    for (const sig of this.pending.splice(0)) this.send(sig);
  }

  stop(): void {
    for (const s of this.signals) process.off(s, this.handler);
  }

  private send(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid!, sig);
    } catch {
      // exited meanwhile
    }
  }
}

/** runc's rules and words: exec in a created or running container, or a paused one when asked. */
function checkStatus(id: string, status: string, ignorePaused = false): void {
  if (status === "stopped") throw new ContainerStateError(id, "cannot exec in a stopped container");
  if (status === "paused" && !ignorePaused) throw new ContainerStateError(id, "cannot exec in a paused container (use --ignore-paused to override)");
  if (status === "creating") throw new ContainerStateError(id, `cannot exec in container ${id}: it is still being created`);
}

/** The process to run: from --process (validated as the config's process is), or the config's with the flags. */
function execProcess(opts: ExecOptions, rec: ContainerRecord, hostCaps: bigint): { proc: Process; source: string } {
  if (opts.processFile !== undefined) {
    const given = processFlagsGiven(opts);
    if (given.length) throw new UsageError(`exec: ${given.join(", ")} cannot be combined with --process (set it in the process file)`);
    if (opts.args.length) throw new UsageError("exec: give either --process FILE or a command, not both");
    const file = resolve(opts.processFile);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new PathError(file, `cannot read the process file: ${(e as Error).message}`);
    }
    const proc = inSource(file, true, () => {
      const p = validateProcess(parseJson(text), "");
      refuseUnsupported({ process: p });
      return p;
    });
    // As runc: with --process the file says whether there is a terminal; --tty asks for one too.
    if (opts.tty) proc.terminal = true;
    return { proc, source: file };
  }

  for (const c of opts.caps ?? []) {
    const n = CAPABILITIES.indexOf(c); // an unknown name is refused with the other flags below
    if (n >= 0 && !((hostCaps >> BigInt(n)) & 1n)) throw new UsageError(`--cap ${c}: not available on this host`);
  }
  const base = loadBundle(rec.bundle).spec.process;
  if (!base) throw new UsageError(`exec: the config of container ${rec.id} has no process to start from; give --process FILE`);
  const proc = execProcessFromFlags(base, opts);
  refuseUnsupported({ process: proc });
  return { proc, source: "config.json" };
}

/**
 * Run fn; a ConfigError it throws names a field of the process object. For a --process file, say so
 * with the field's path inside that file (`/user/uid`, not `/process/user/uid`).
 */
function inSource<T>(source: string, isFile: boolean, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isFile && e instanceof ConfigError) {
      const field = e.field.replace(/^\/process(?=\/|$)/, "");
      const prefix = e.field ? `config.json ${e.field}: ` : "config.json: ";
      const detail = e.message.slice(prefix.length);
      throw new PathError(source, field ? `${field}: ${detail}` : detail);
    }
    throw e;
  }
}

/**
 * exec --cgroup joins sub-cgroups that must exist already (as runc: it makes none). Said before
 * anything starts, with the path the process would have been added to.
 */
function requireCgroupDirs(dirs: readonly string[]): void {
  for (const dir of dirs) {
    if (dir && !existsSync(dir)) {
      throw new PathError(dir, `no such cgroup: --cgroup names an existing sub-cgroup (error adding pid to it: ${dir}/cgroup.procs: no such file or directory)`);
    }
  }
}

/** Every namespace of the container's init that is not tsrun's own, with the path to join it by. */
function containerNamespaces(rec: ContainerRecord): JoinedNamespace[] {
  const out: JoinedNamespace[] = [];
  for (const [type, name] of Object.entries(NS_PROC_NAMES)) {
    const path = `/proc/${rec.pid}/ns/${name}`;
    let theirs, ours;
    try {
      theirs = statSync(path);
      ours = statSync(`/proc/self/ns/${name}`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && statSync(`/proc/${rec.pid}/ns`, { throwIfNoEntry: false }) === undefined) {
        throw new ContainerStateError(rec.id, "cannot exec in a stopped container");
      }
      if (code === "ENOENT") continue; // a namespace type this kernel does not have
      throw new HostError(`cannot read namespace ${path}: ${(e as Error).message}`);
    }
    if (theirs.ino !== ours.ino || theirs.dev !== ours.dev) out.push({ type, path });
  }
  return out;
}

/** Whether the user namespace of pid maps uid 0 and gid 0 (false when its maps cannot be read). */
function usernsMapsRoot(pid: number): boolean {
  try {
    return mapsId(parseIdMap(readFileSync(`/proc/${pid}/uid_map`, "utf8")), 0) && mapsId(parseIdMap(readFileSync(`/proc/${pid}/gid_map`, "utf8")), 0);
  } catch {
    return false;
  }
}

const PASSWD_MAX = 4 << 20;

/**
 * HOME for uid from the container's own /etc/passwd (as runc does when the env has none), read
 * through the init's root: the file a process in the container sees, layers and bind mounts included.
 * The container may have changed it: only a regular file of sane size is read (never a fifo or a
 * device, which could hang or flood this call), and /etc may not be a symlink. Otherwise "/".
 */
function containerHome(initPid: number, uid: number): string {
  const root = `/proc/${initPid}/root`;
  let fd: number | undefined;
  try {
    if (!lstatSync(`${root}/etc`).isDirectory()) return "/";
    fd = openSync(`${root}/etc/passwd`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > PASSWD_MAX) return "/";
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, n);
      if (r === 0) break;
      n += r;
    }
    return homeIn(buf.toString("utf8", 0, n), uid);
  } catch {
    return "/";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
