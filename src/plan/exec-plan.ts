import { NAMESPACE_FLAGS } from "./namespaces.js";
import { Op, type PlanRecord } from "../launch/ops.js";
import { withProcfsHandle } from "../launch/procfs.js";
import { planJoinSessionKeyring } from "../security/keyring.js";
import type { CompiledSeccomp } from "../security/seccomp/compile.js";
import {
  type ProcessPlanInput,
  planInitialAffinity,
  planOomScoreAdj,
  planProcess,
  planSeccomp,
  type ProcessSpec,
  SECCOMP_LISTENER_SLOT,
} from "./process.js";

/**
 * The launch plan of `exec`: a new process in the namespaces and the cgroup of a running (or created)
 * container, confined by the same process records as the container's own process (process.ts).
 *
 * Where each step runs, and why there:
 *   stage 0 (host)   JOIN_NAMESPACES pid + time: both apply to children only, so the CLONE child is
 *                    born in the container's pid and time namespaces.
 *                    CLONE into the container's cgroup v2 directory (clone3 CLONE_INTO_CGROUP): a host
 *                    path, opened while still in the host's mount namespace, and from the host's cgroup
 *                    namespace, since on an nsdelegate mount (systemd's) the kernel wants the source and
 *                    the destination cgroup both visible from the caller's cgroup namespace.
 *   child (host fs)  "0" into each v1 `tasks` file (a self-move, as create's init does) and
 *                    oom_score_adj: both through the host's /sys and /proc, before the mount namespace
 *                    is joined.
 *   child            JOIN_NAMESPACES user (first), ipc, uts, net, cgroup, mount (last; it also sets
 *                    the root and the cwd to the container's root, so no host directory is left).
 *                    SYNC: the parent checks the init is still the process it joined (pid + start time).
 *                    SETRESID 0 in a joined user namespace that maps root (the container's root from
 *                    here on, never the host's), SETSID, then the process records in create's order
 *                    (process.ts planProcess, the filter where create loads it), READY, EXEC. No exec fifo.
 * Stage 0 exits once the child exists (--detach) or waits and exits with its status (foreground).
 */

/** A namespace of the container's init that differs from tsrun's own: its OCI type and /proc path. */
export interface JoinedNamespace {
  type: string;
  path: string;
}

/**
 * The /proc/<pid>/ns entry of each OCI namespace type. `time` is time_for_children: an init that
 * unshared a time namespace enters it only when it execs, and a created container's init has not.
 */
export const NS_PROC_NAMES: Record<string, string> = {
  user: "user",
  ipc: "ipc",
  uts: "uts",
  network: "net",
  pid: "pid",
  cgroup: "cgroup",
  time: "time_for_children",
  mount: "mnt",
};

const BEFORE_CLONE = ["pid", "time"];
const AFTER_CLONE = ["user", "ipc", "uts", "network", "cgroup", "mount"];
// Without host root, joining the pid namespace needs CAP_SYS_ADMIN in the container's user namespace:
// stage 0 joins that first (as runc's nsexec does). Nothing of host root's is written after it then.
const BEFORE_CLONE_UNPRIVILEGED = ["user", "pid", "time"];
const AFTER_CLONE_UNPRIVILEGED = ["ipc", "uts", "network", "cgroup", "mount"];

export interface ExecPlanInput {
  process: ProcessSpec & { oomScoreAdj?: number };
  /** The init's namespaces that differ from tsrun's own (joining one's own user namespace is an error). */
  namespaces: readonly JoinedNamespace[];
  /** The container's cgroup (CgroupDriver.joinPlan): a v2 directory to clone into, v1 `tasks` files. */
  cgroupJoin: { cloneInto: string; selfTasks: readonly string[] };
  /** The host's capability bounding set and /proc/sys/kernel/cap_last_cap. */
  hostCaps: bigint;
  lastCap: number;
  /** The joined user namespace maps uid 0 and gid 0: the process becomes that root as soon as it has
   *  joined, as runc's exec does, so it never acts in the container as the host's root (whose uid owns
   *  host files the container's root cannot enter, e.g. while it enters its cwd). */
  usernsRoot?: boolean;
  /** false: tsrun is not host root in the initial user namespace (rootless): the user namespace is joined
   *  first, in stage 0. Default true. */
  hostRoot?: boolean;
  /** The container's user namespace has setgroups "deny" (/proc/<pid>/setgroups): groups are left as they are. */
  setgroupsDenied?: boolean;
  /** tsrun's own hard rlimits (host.ts hostLimits) and the online CPUs: checked as create checks them. */
  hostLimits?: ProcessPlanInput["hostLimits"];
  onlineCpus?: bigint[];
  /** The container's session keyring to join ("_ses.<id>", as runc's exec does), unless it was created
   *  with --no-new-keyring. */
  sessionKeyring?: string;
  /** The container's seccomp filter (compiled from the profile saved at create): exec'd processes get it
   *  too, loaded where create loads it. With NOTIFY rules the listener gets the process's fd. */
  seccomp?: CompiledSeccomp;
  preserveFds: number;
  /** Without --detach: stage 0 waits and exits with the process's status. */
  foreground: boolean;
  /** The container's /etc/passwd, readable from the host (for HOME), if any. */
  passwd?: string;
  /** JSON path of the process object in error messages: "/process" (config.json), "" (a --process file). */
  field?: string;
  /** Steps other parts add (the pidfd socket, the terminal): records for stage 0 before CLONE, and for
   *  the child once it is in every namespace of the container, the parent has answered its SYNC, and it
   *  leads its own session (so a terminal step makes its pty the controlling terminal, and must not
   *  SETSID again), before the process records (the filter among them). */
  stage0?: readonly PlanRecord[];
  joined?: readonly PlanRecord[];
}

export interface ExecPlan {
  records: PlanRecord[];
  /** The tag of the one SYNC point (the child is in the container's namespaces and cgroup). */
  syncTag: string;
  /** NOTIFY rules: at the sync the parent sends the process state in this slot, for the listener. */
  seccompListener?: { slot: number; metadata?: string };
}

export const SYNC_EXEC = "exec";

/** Namespaces -> the JOIN_NAMESPACES record for the given types, in that order (none: no record). */
function joinRecord(namespaces: readonly JoinedNamespace[], order: readonly string[]): PlanRecord[] {
  const list = order.flatMap((t) => namespaces.filter((n) => n.type === t));
  if (!list.length) return [];
  return [{ op: Op.JOIN_NAMESPACES, ints: list.map((n) => NAMESPACE_FLAGS[n.type]), strs: list.map((n) => n.path) }];
}

/** exec's plan. Every value is resolved here; tsrun-init only executes. Pure. */
export function buildExecPlan(input: ExecPlanInput): ExecPlan {
  const proc = input.process;
  for (const n of input.namespaces) {
    if (!(n.type in NS_PROC_NAMES)) throw new RangeError(`unknown namespace type "${n.type}"`);
  }
  const recs: PlanRecord[] = [];
  // Checked before anything runs: a bad process fails the plan, not the child half-way.
  // In the container's own user namespace the process may hold any capability of that namespace.
  const ownUser = input.namespaces.some((n) => n.type === "user");
  const procInput: ProcessPlanInput = {
    hostCaps: ownUser ? (1n << BigInt(input.lastCap + 1)) - 1n : input.hostCaps,
    lastCap: input.lastCap,
    field: input.field,
    hostLimits: input.hostLimits,
    onlineCpus: input.onlineCpus,
    seccomp: input.seccomp && planSeccomp(input.seccomp),
    setgroupsDenied: input.setgroupsDenied,
  };
  const processRecs = planProcess(procInput, proc, { preserveFds: input.preserveFds, wait: [{ op: Op.READY }], passwd: input.passwd });

  recs.push(...(input.stage0 ?? []));
  // The listener is a host path: connected before any namespace is joined.
  if (input.seccomp?.notify) recs.push({ op: Op.SECCOMP_LISTENER, strs: [input.seccomp.listenerPath!] });
  // execCPUAffinity.initial: before the clone, so the child starts with it, before it joins the cgroup.
  const initialCpus = planInitialAffinity(procInput, proc);
  if (initialCpus) recs.push(initialCpus);
  // On stage 0 before any namespace is joined: the child inherits it at the clone.
  if (proc.oomScoreAdj !== undefined) recs.push(...planOomScoreAdj(proc.oomScoreAdj, `${input.field ?? "/process"}/oomScoreAdj`, input.hostRoot));
  const unprivileged = input.hostRoot === false;
  recs.push(...joinRecord(input.namespaces, unprivileged ? BEFORE_CLONE_UNPRIVILEGED : BEFORE_CLONE));
  recs.push({ op: Op.CLONE, ints: [0, input.foreground ? 1 : 0], strs: [input.cgroupJoin.cloneInto] });

  for (const tasks of input.cgroupJoin.selfTasks) recs.push({ op: Op.WRITE_FILE, strs: [tasks, "0"] });
  recs.push(...joinRecord(input.namespaces, unprivileged ? AFTER_CLONE_UNPRIVILEGED : AFTER_CLONE));

  recs.push({ op: Op.SYNC, strs: [SYNC_EXEC] });
  if (ownUser && input.usernsRoot) recs.push({ op: Op.SETRESID, ints: [0, 0] });
  // Its own session and process group, as runc's exec: a Ctrl-C on the caller's terminal reaches it
  // once, through the caller's forwarding, and the container sees its session and group ids.
  recs.push({ op: Op.SETSID });
  if (input.sessionKeyring !== undefined) recs.push(planJoinSessionKeyring(input.sessionKeyring));
  recs.push(...(input.joined ?? []));
  recs.push(...processRecs);
  return {
    records: withProcfsHandle(recs),
    syncTag: SYNC_EXEC,
    ...(input.seccomp?.notify ? { seccompListener: { slot: SECCOMP_LISTENER_SLOT, metadata: input.seccomp.listenerMetadata } } : {}),
  };
}
