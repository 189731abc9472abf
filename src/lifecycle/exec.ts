import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { HostError, PathError } from "../errors.js";
import { rootlessCgroupFacts } from "../cgroups/access.js";
import { recordedCgroupDriver } from "../cgroups/driver.js";
import { NO_CGROUP } from "../cgroups/members.js";
import { launchInit, type SyncData } from "../init/launch.js";
import { initPath } from "../init/locate.js";
import { type JoinedNamespace, NS_PROC_NAMES } from "../plan/exec-plan.js";
import { type ExecRequest, planExec } from "../plan/exec-request.js";
import { mapsId, parseIdMap } from "../plan/namespaces.js";
import type { ExecFlags } from "../plan/exec-process.js";
import { homeIn } from "../plan/process.js";
import { containerProcessState } from "../security/seccomp/process-state.js";
import { savedSeccomp } from "../security/seccomp/saved.js";
import { isSameLiveProcess } from "../state/proc.js";
import type { ContainerRecord } from "../state/store.js";
import { type RuntimeContext, checkVerb, liveStatus } from "./context.js";
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
  /** --pidfd-socket: the AF_UNIX socket that receives a pidfd of the process (runc 1.2+). */
  pidfdSocket?: string;
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
 * its init, confined by the process's own settings. Two phases: planExec (src/plan/exec-request.ts) makes
 * every decision from the flags and what is read of the container, raising every error of the request;
 * then, under the lock, the container is checked again and the process launched. Without `detach`,
 * waits and returns the process's exit status (128+N when signal N killed it); with it, returns 0 once
 * the process runs. The pid file gets the process's host pid in both cases, as runc writes it.
 */
export async function execInContainer(ctx: RuntimeContext, opts: ExecOptions): Promise<number> {
  const { store } = ctx;
  const t0 = performance.now();
  const rec = store.read(opts.id);
  checkVerb(opts.ignorePaused ? "exec --ignore-paused" : "exec", liveStatus(store, rec), rec.id);
  const plan = planExec(execRequest(ctx, rec, opts));

  // A foreground exec passes the caller's signals on to its process. The handlers go in before the
  // process exists (as runc's signal handler does): a TERM that came between its start and a later
  // handler would end tsrun by default and leave the process behind. What comes before the pid is known
  // is passed on once it is.
  const forwarder = plan.detach ? undefined : new SignalForwarder(FORWARDED.filter((s) => !(plan.terminal && s === "SIGWINCH")));
  try {
    return await actExec();
  } finally {
    forwarder?.stop();
  }

  /** exec, phase 2: under the container's lock, check it is still live, then launch the process. */
  async function actExec(): Promise<number> {
    let unlock: (() => void) | undefined = store.lock(rec.id);
    crashPoint("exec", "locked");
    let pid: number;
    let exited: Promise<number>;
    const { launch, cgroupJoin } = plan;
    try {
      // Again under the lock: a delete or a pause may have come in between.
      const status = liveStatus(store, rec);
      checkVerb(opts.ignorePaused ? "exec --ignore-paused" : "exec", status, rec.id);
      if (plan.subCgroups.size) requireCgroupDirs([cgroupJoin.cloneInto, ...cgroupJoin.selfTasks.map(dirname)]);
      ctx.debug(`exec ${rec.id}: ${launch.records.length} records, joining ${plan.namespaces.map((n) => n.type).join(",") || "no namespace"} at ${(performance.now() - t0).toFixed(2)} ms`);
      // Paused (--ignore-paused): the process freezes as it joins the cgroup and goes on only at `resume`,
      // which takes this lock. Hold it no longer; the check at the sync still makes sure that the
      // namespaces joined were the init's.
      if (status === "paused") {
        unlock();
        unlock = undefined;
      }
      const launched = await launchInit({
        initPath: initPath(),
        plan: plan.encoded,
        preserveFds: plan.preserveFds,
        foreground: !plan.detach,
        onSync: async (_tag, child) => {
          // The child holds the namespaces it opened by pid: make sure they were the init's. A pid
          // reused between the status check and those opens shows a different start time now.
          if (!isSameLiveProcess(rec.pid, rec.pidStartTime)) checkVerb("exec", "stopped", rec.id);
          await opts.atSync?.(child);
          crashPoint("exec", "sync");
          const slots: SyncData = [];
          if (launch.seccompListener) {
            slots[launch.seccompListener.slot] = containerProcessState(rec, child, launch.seccompListener.metadata, { status: liveStatus(store, rec), pid: rec.pid });
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
        if (!plan.detach) await exited;
        throw e;
      }
    }
    if (plan.detach) return 0;
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

/** The input of planExec: the flags, and what is read now of the host and of the container's init. */
function execRequest(ctx: RuntimeContext, rec: ContainerRecord, opts: ExecOptions): ExecRequest {
  const namespaces = containerNamespaces(rec);
  return {
    flags: opts,
    container: rec,
    joined: {
      namespaces,
      usernsRoot: namespaces.some((n) => n.type === "user") && usernsMapsRoot(rec.pid),
      setgroupsDenied: namespaces.some((n) => n.type === "user") && setgroupsDenied(rec.pid),
      home: (uid) => containerHome(rec.pid, uid),
      // Exec'd processes are confined by the container's seccomp profile too (runc's exec does the same).
      seccomp: savedSeccomp(ctx.store.dir(rec.id)),
    },
    host: {
      cgroup: recordedCgroupDriver(rec),
      // Rootless: may this caller move a process into the container's cgroup (on cgroup v2 it must be in
      // the delegated subtree too)? Asked only when there is a cgroup to join.
      ...(ctx.rootless.cgroups && rec.cgroupPath !== NO_CGROUP ? { cgroupAccess: rootlessCgroupFacts().cgroupAccess(rec.cgroupPath), euid: ctx.rootless.euid } : {}),
      hostCaps: hostCapabilities(),
      lastCap: lastCap(),
      hostLimits: hostLimits(),
      onlineCpus: onlineCpus(),
      hostRoot: !(ctx.rootless.nonRootEuid || ctx.rootless.cgroups),
    },
  };
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
        checkVerb("exec", "stopped", rec.id); // the init is gone: the table's refusal
      }
      if (code === "ENOENT") continue; // a namespace type this kernel does not have
      throw new HostError(`cannot read namespace ${path}: ${(e as Error).message}`);
    }
    if (theirs.ino !== ours.ino || theirs.dev !== ours.dev) out.push({ type, path });
  }
  return out;
}

/** Whether the user namespace of pid maps uid 0 and gid 0 (false when its maps cannot be read). */
/** The init's user namespace says "deny" in setgroups (a rootless map of the caller's own gid). */
function setgroupsDenied(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/setgroups`, "utf8").trim() === "deny";
  } catch {
    return false;
  }
}

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
