import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { passwdEntry } from "../security/passwd.js";
import { capabilityMask, capabilityNames } from "../security/capabilities.js";
import { cpusMissing, parseCpuList } from "../security/cpu-list.js";
import { planIoPriority } from "../security/ioprio.js";
import { type LsmState, planLsm, probeLsm } from "../security/lsm.js";
import { checkHardLimit, type HostLimits, rlimitNumber } from "../security/rlimits.js";
import { planScheduler, type SchedulerSpec } from "../security/scheduler.js";
import { packFilter } from "../security/seccomp/bpf.js";
import type { CompiledSeccomp } from "../security/seccomp/compile.js";
import { Op, PR_SET_DUMPABLE, PR_SET_KEEPCAPS, type PlanRecord } from "../launch/ops.js";
import { procfsWrite } from "../launch/procfs.js";
import { SECCOMP_LISTENER_SLOT } from "../launch/sync.js";

/**
 * The process part of a launch plan: what turns the container init (after `create`) or a joined
 * process (after `exec`) into the configured user process. Shared by both, so a process is confined
 * the same way whichever verb starts it.
 */
export interface ProcessSpec {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args?: string[];
  env?: string[];
  cwd: string;
  capabilities?: { bounding?: string[]; effective?: string[]; inheritable?: string[]; permitted?: string[]; ambient?: string[] };
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
  scheduler?: SchedulerSpec;
  ioPriority?: { class: string; priority?: number };
  execCPUAffinity?: { initial?: string; final?: string };
  apparmorProfile?: string;
  selinuxLabel?: string;
}

export interface ProcessPlanInput {
  /** The host's capability bounding set and /proc/sys/kernel/cap_last_cap. */
  hostCaps: bigint;
  lastCap: number;
  /** JSON path of the process object in error messages ("/process" for a config). */
  field?: string;
  /** tsrun's own hard rlimits and whether it may raise them (host.ts hostLimits); no check when absent. */
  hostLimits?: HostLimits;
  /** Active LSMs; probed when absent and the process asks for an AppArmor profile or SELinux label. */
  lsm?: LsmState;
  /** The online CPUs (host.ts onlineCpus): an affinity naming another CPU is refused; no check when absent. */
  onlineCpus?: bigint[];
  /** The SECCOMP record (planSeccomp), placed by planProcess. */
  seccomp?: PlanRecord;
  /** The user namespace's setgroups is "deny" (src/plan/id-maps.ts): the groups stay as they are. */
  setgroupsDenied?: boolean;
}

/** The sync data slot that carries the seccomp listener's payload (src/launch/sync.ts). */
export { SECCOMP_LISTENER_SLOT };

/** The SECCOMP record of a compiled filter; with a NOTIFY rule the notify fd goes to the listener with
 *  the text of SECCOMP_LISTENER_SLOT (the stage-0 SECCOMP_LISTENER record must connect it first). */
export function planSeccomp(c: CompiledSeccomp): PlanRecord {
  return { op: Op.SECCOMP, ints: [c.flags, c.notify ? SECCOMP_LISTENER_SLOT : -1], rawInts: packFilter(c.filter) };
}

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** What surrounds the process records in a plan: the fds kept, records of other parts, the wait for `start`. */
export interface ProcessPlanEnd {
  /** --preserve-fds: fds 3 to 2+preserveFds stay open for the process; every later one is close-on-exec. */
  preserveFds: number;
  /** Records run as the container's root once the process settings are made, before the fds are marked
   *  close-on-exec (linux.personality). */
  setup?: readonly PlanRecord[];
  /** Records between the last check and the execve, all under the filter: READY, then for `create`
   *  WAIT_FIFO, the startContainer hooks and STARTED. */
  wait: readonly PlanRecord[];
  /** The container's /etc/passwd on the host (for HOME), if any. */
  passwd: string | undefined;
}

/**
 * The records that turn the init (after `create`) or a joined process (after `exec`) into the configured
 * process, up to and with its EXEC, in the order of runc's init:
 *
 *   as root       rlimits, LSM labels, scheduler, I/O priority, CPU affinity, `setup`, every fd from
 *                 3+preserveFds marked close-on-exec, the umask, the cwd resolved inside the root and entered (CHDIR)
 *   [filter]      without noNewPrivileges, loading the filter needs CAP_SYS_ADMIN: it comes before the user
 *                 and capabilities change, the executable looked up just before it (so as root)
 *   user          bounding set, setgroups/setres[ug]id, the cwd entered as the user if root could not
 *                 (CHDIR_RETRY), capabilities, no_new_privs
 *   [filter]      with noNewPrivileges: the executable looked up (as the user), then the filter
 *   `wait`, EXEC
 *
 * So under the filter tsrun-init only makes the calls runc's init makes there: setgroups, setres[ug]id,
 * capset and the capability prctls, fchdir, the sync and exec fifo writes, the startContainer hooks'
 * clone and execve, and execve. A profile needs none of openat2, getcwd, close_range, umask or stat.
 */
export function planProcess(input: ProcessPlanInput, proc: ProcessSpec, end: ProcessPlanEnd): PlanRecord[] {
  const at = input.field ?? "/process";
  const recs: PlanRecord[] = [];
  if (!proc.args?.length) throw new ConfigError(`${at}/args`, "must name the program to run");
  if (!proc.cwd.startsWith("/")) throw new ConfigError(`${at}/cwd`, `must be an absolute path: ${proc.cwd}`);
  const seen = new Map<string, number>();
  (proc.rlimits ?? []).forEach((r, i) => {
    const field = `${at}/rlimits/${i}`;
    const n = rlimitNumber(r.type, `${field}/type`);
    if (seen.has(r.type)) throw new ConfigError(`${field}/type`, `${r.type} is already set by ${at}/rlimits/${seen.get(r.type)}`);
    seen.set(r.type, i);
    if (r.soft > r.hard) throw new ConfigError(field, `soft limit ${r.soft} is above hard limit ${r.hard}`);
    checkHardLimit(r.type, n, toRlim(r.hard), input.hostLimits, `${field}/hard`);
    recs.push({ op: Op.RLIMIT, ints: [n, toRlim(r.soft), toRlim(r.hard)] });
  });
  // Labels for the next execve, written while the process is still root (SELinux checks setexec).
  if (proc.apparmorProfile || proc.selinuxLabel) recs.push(...planLsm(proc, input.lsm ?? probeLsm(), at));
  // As root with every capability, like runc: the container's own capabilities do not limit them.
  if (proc.scheduler) recs.push(planScheduler(proc.scheduler, `${at}/scheduler`));
  if (proc.ioPriority) recs.push(planIoPriority(proc.ioPriority, `${at}/ioPriority`));
  const finalCpus = affinityRecord(proc, "final", input);
  if (finalCpus) recs.push(finalCpus);
  recs.push(...(end.setup ?? []));
  recs.push({ op: Op.CLOEXEC_FROM, ints: [3 + end.preserveFds] });
  const u = proc.user;
  recs.push({ op: Op.UMASK, ints: [u.umask ?? 0o022] });
  // As root first, as runc does: a process may start in a directory only root can enter.
  recs.push({ op: Op.CHDIR, strs: [proc.cwd] });

  const caps = proc.capabilities;
  let sets: { bounding: bigint; effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint } | undefined;
  if (caps) {
    sets = {
      bounding: capabilityMask(caps.bounding, `${at}/capabilities/bounding`),
      effective: capabilityMask(caps.effective, `${at}/capabilities/effective`),
      permitted: capabilityMask(caps.permitted, `${at}/capabilities/permitted`),
      inheritable: capabilityMask(caps.inheritable, `${at}/capabilities/inheritable`),
      ambient: capabilityMask(caps.ambient, `${at}/capabilities/ambient`),
    };
    for (const [set, mask] of Object.entries(sets)) {
      const missing = capabilityNames(mask & ~input.hostCaps);
      if (missing.length) throw new ConfigError(`${at}/capabilities/${set}`, `${missing.join(", ")} not available on this host`);
    }
  }
  const findExec = planFindExec(proc);
  const early = input.seccomp !== undefined && !proc.noNewPrivileges;
  if (early) recs.push(findExec, input.seccomp!);
  if (sets) {
    recs.push({ op: Op.CAP_BOUNDING, ints: [sets.bounding, input.lastCap] });
    recs.push({ op: Op.PRCTL, ints: [PR_SET_KEEPCAPS, 1] });
  }
  // With setgroups denied the call would fail with EPERM: as runc, the process keeps the groups it has.
  if (input.setgroupsDenied && u.additionalGids?.length) {
    throw new ConfigError(`${at}/user/additionalGids`, "cannot be set: setgroups is denied in this user namespace (its gid map is the caller's own gid alone)");
  }
  recs.push({ op: Op.SETUSER, ints: [u.uid, u.gid, input.setgroupsDenied ? 0 : 1, ...(u.additionalGids ?? [])] });
  // Where root was refused (a directory of an id root does not own in a user namespace), the user may enter.
  recs.push({ op: Op.CHDIR_RETRY, strs: [proc.cwd] });
  if (sets) {
    recs.push({ op: Op.PRCTL, ints: [PR_SET_KEEPCAPS, 0] });
    recs.push({ op: Op.CAPSET, ints: [sets.effective, sets.permitted, sets.inheritable] });
    // The kernel raises an ambient capability only if it is permitted and inheritable; runc warns and
    // skips the others, and so does tsrun (the skipped ones are the caller's to see in the plan).
    const ambient = sets.ambient & sets.permitted & sets.inheritable;
    if (ambient) recs.push({ op: Op.AMBIENT, ints: [ambient] });
  }
  if (proc.noNewPrivileges) recs.push({ op: Op.NO_NEW_PRIVS });
  if (!early) recs.push(findExec);
  // With no_new_privs the filter needs no capability: as late as runc loads it, once nothing is left to check.
  if (input.seccomp && proc.noNewPrivileges) recs.push(input.seccomp);
  recs.push(...end.wait);
  recs.push(planExec(proc, end.passwd));
  return recs;
}

/** process.oomScoreAdj -> its write to /proc/self/oom_score_adj through the procfs handle; the kernel
 *  refuses a value below the inherited minimum without CAP_SYS_RESOURCE, and the error says so. */
export function planOomScoreAdj(value: number, field: string, hostRoot: boolean | undefined): PlanRecord[] {
  const w = procfsWrite("self/oom_score_adj", String(value), field, " (a value below the one tsrun inherited needs CAP_SYS_RESOURCE)");
  return hostRoot === false ? whileDumpable(w) : [w];
}

/**
 * A write to one of the process's own /proc files by a caller without host root: a non-dumpable process's
 * files there are host root's (the kernel's task_dump_owner), so it is dumpable for that one write. Nothing
 * of the container has run yet; only the caller's own processes could look at it meanwhile.
 */
export function whileDumpable(write: PlanRecord): PlanRecord[] {
  return [{ op: Op.PRCTL, ints: [PR_SET_DUMPABLE, 1] }, write, { op: Op.PRCTL, ints: [PR_SET_DUMPABLE, 0] }];
}

/**
 * process.execCPUAffinity.initial: the CPU_AFFINITY record for stage 0, before the clone and the
 * cgroup join (undefined when not set). `final` is part of planProcess.
 */
export function planInitialAffinity(input: ProcessPlanInput, proc: ProcessSpec): PlanRecord | undefined {
  return affinityRecord(proc, "initial", input);
}

function affinityRecord(proc: ProcessSpec, which: "initial" | "final", input: ProcessPlanInput): PlanRecord | undefined {
  const list = proc.execCPUAffinity?.[which];
  if (!list) return undefined; // omitted or "": the kernel decides (config.md)
  const field = `${input.field ?? "/process"}/execCPUAffinity/${which}`;
  const mask = parseCpuList(list, field);
  const missing = input.onlineCpus ? cpusMissing(mask, input.onlineCpus) : [];
  if (missing.length) throw new ConfigError(field, `CPU ${missing.join(", ")} not online on this host`);
  return { op: Op.CPU_AFFINITY, ints: mask, strs: [field] };
}

/** The FIND_EXEC record: the executable looked up with the process's PATH, as execvp would. */
function planFindExec(proc: ProcessSpec): PlanRecord {
  return { op: Op.FIND_EXEC, strs: [searchPath(proc.env), proc.args![0]!] };
}

/** The EXEC record; `passwd` is the container's /etc/passwd on the host (for HOME), if any. */
function planExec(proc: ProcessSpec, passwd: string | undefined): PlanRecord {
  const env = withHome(proc.env ?? [], passwd, proc.user.uid);
  return { op: Op.EXEC, ints: [proc.args!.length], strs: [...proc.args!, ...env] };
}

/** RLIM_INFINITY is all ones; the spec's uint64 may arrive as a JS number at 2^64-1 (rounded up). */
function toRlim(v: number): bigint {
  return v >= 2 ** 64 - 1 ? 0xffffffffffffffffn : BigInt(v);
}

function searchPath(env: readonly string[] | undefined): string {
  const p = [...(env ?? [])].reverse().find((e) => e.startsWith("PATH="));
  return p ? p.slice(5) : DEFAULT_PATH;
}

/** As runc does, give the process HOME from the container's /etc/passwd (or /) when the config has none. */
function withHome(env: readonly string[], passwd: string | undefined, uid: number): string[] {
  if (env.some((e) => e.startsWith("HOME="))) return [...env];
  let home = "/";
  try {
    if (passwd === undefined) return [...env, `HOME=${home}`];
    home = homeIn(readFileSync(passwd, "utf8"), uid);
  } catch {
    // no passwd file in the image: keep /
  }
  return [...env, `HOME=${home}`];
}

/** The home directory of uid in /etc/passwd text, else "/". Pure. */
export function homeIn(passwdText: string, uid: number): string {
  return passwdEntry(passwdText, uid)?.home || "/";
}
