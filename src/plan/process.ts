import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { capabilityMask, capabilityNames } from "../security/capabilities.js";
import { cpusMissing, parseCpuList } from "../security/cpu-list.js";
import { planIoPriority } from "../security/ioprio.js";
import { type LsmState, planLsm, probeLsm } from "../security/lsm.js";
import { checkHardLimit, type HostLimits, rlimitNumber } from "../security/rlimits.js";
import { planScheduler, type SchedulerSpec } from "../security/scheduler.js";
import { packFilter } from "../security/seccomp/bpf.js";
import type { CompiledSeccomp } from "../security/seccomp/compile.js";
import { Op, type PlanRecord } from "./ops.js";

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
  /** The SECCOMP record (planSeccomp), placed by planProcess or planLateSeccomp. */
  seccomp?: PlanRecord;
}

/** The sync data slot that carries the seccomp listener's payload (slots 0-1 are the hooks'). */
export const SECCOMP_LISTENER_SLOT = 2;

/** The SECCOMP record of a compiled filter; with a NOTIFY rule the notify fd goes to the listener with
 *  the text of SECCOMP_LISTENER_SLOT (the stage-0 SECCOMP_LISTENER record must connect it first). */
export function planSeccomp(c: CompiledSeccomp): PlanRecord {
  return { op: Op.SECCOMP, ints: [c.flags, c.notify ? SECCOMP_LISTENER_SLOT : -1], rawInts: packFilter(c.filter) };
}

/**
 * Where the filter is loaded, as runc does it. With noNewPrivileges: as late as possible, right before
 * EXEC (planLateSeccomp), so that the fewest syscalls of tsrun-init run under it (the exec fifo wait and
 * the executable lookup are done by then). Without: loading needs CAP_SYS_ADMIN, so it comes first in
 * planProcess, before the user and capabilities change; everything after it runs under the filter.
 */
export function planLateSeccomp(input: ProcessPlanInput, proc: ProcessSpec): PlanRecord[] {
  return input.seccomp && proc.noNewPrivileges ? [input.seccomp] : [];
}

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Limits, capabilities, identity, no_new_privs, umask and cwd: the records before the fds are closed. */
export function planProcess(input: ProcessPlanInput, proc: ProcessSpec): PlanRecord[] {
  const at = input.field ?? "/process";
  const recs: PlanRecord[] = [];
  if (!proc.args?.length) throw new ConfigError(`${at}/args`, "must name the program to run");
  if (!proc.cwd.startsWith("/")) throw new ConfigError(`${at}/cwd`, `must be an absolute path: ${proc.cwd}`);
  const seen = new Map<string, number>();
  if (input.seccomp && !proc.noNewPrivileges) recs.push(input.seccomp);
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
    recs.push({ op: Op.CAP_BOUNDING, ints: [sets.bounding, input.lastCap] });
    recs.push({ op: Op.KEEPCAPS, ints: [1] });
  }
  const u = proc.user;
  recs.push({ op: Op.SETUSER, ints: [u.uid, u.gid, 1, ...(u.additionalGids ?? [])] });
  if (sets) {
    recs.push({ op: Op.KEEPCAPS, ints: [0] });
    recs.push({ op: Op.CAPSET, ints: [sets.effective, sets.permitted, sets.inheritable] });
    // The kernel raises an ambient capability only if it is permitted and inheritable; runc warns and
    // skips the others, and so does tsrun (the skipped ones are the caller's to see in the plan).
    const ambient = sets.ambient & sets.permitted & sets.inheritable;
    if (ambient) recs.push({ op: Op.AMBIENT, ints: [ambient] });
  }
  if (proc.noNewPrivileges) recs.push({ op: Op.NO_NEW_PRIVS });
  recs.push({ op: Op.UMASK, ints: [u.umask ?? 0o022] });
  recs.push({ op: Op.CHDIR, strs: [proc.cwd] });
  if (finalCpus) recs.push(finalCpus);
  return recs;
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
export function planFindExec(proc: ProcessSpec): PlanRecord {
  return { op: Op.FIND_EXEC, strs: [searchPath(proc.env), proc.args![0]] };
}

/** The EXEC record; `passwd` is the container's /etc/passwd on the host (for HOME), if any. */
export function planExec(proc: ProcessSpec, passwd: string | undefined): PlanRecord {
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
  for (const line of passwdText.split("\n")) {
    const f = line.split(":");
    if (f.length >= 6 && Number(f[2]) === uid && f[5]) return f[5];
  }
  return "/";
}
