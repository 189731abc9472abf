/**
 * exec, phase 1: the exec flags (or a --process file) and what was read of the container -> the process
 * to start and its launch plan, as one immutable value. Writes nothing and starts nothing, so every error
 * of the process, the flags or the saved seccomp profile is raised here, before the container is locked.
 * Phase 2 (src/lifecycle/exec.ts) takes the lock, checks the container is still the one read, launches.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, ContainerStateError, PathError, UsageError } from "../errors.js";
import type { CgroupAccess } from "../cgroups/access.js";
import type { CgroupDriver } from "../cgroups/driver.js";
import { NO_CGROUP, requireOwnCgroup } from "../cgroups/members.js";
import { parseSubCgroups, type SubCgroups } from "../cgroups/sub-cgroup.js";
import { CAPABILITIES } from "../security/capabilities.js";
import type { HostLimits } from "../security/rlimits.js";
import { compileSeccomp } from "../security/seccomp/compile.js";
import { loadBundle, parseJson } from "../spec/load.js";
import type { LinuxSeccomp, Process } from "../spec/types.js";
import { validateProcess } from "../spec/validate.js";
import { encodePlan } from "../launch/encode.js";
import { buildExecPlan, type ExecPlan, type JoinedNamespace } from "./exec-plan.js";
import { type ExecFlags, execProcessFromFlags, processFlagsGiven } from "./exec-process.js";
import { checkConsoleFlags, planTerminal } from "./terminal.js";
import { planPidfdSocket } from "./pidfd-socket.js";
import { refuseUnsupported } from "./unsupported.js";

export interface ExecRequest {
  /** The flags of the call: the command and its process flags, or --process FILE. */
  flags: ExecFlags & {
    processFile?: string;
    detach?: boolean;
    consoleSocket?: string;
    /** --pidfd-socket: the process sends a pidfd of itself there. */
    pidfdSocket?: string;
    preserveFds?: number;
    /** --cgroup: sub-cgroups of the container's cgroup to run in. */
    cgroups?: readonly string[];
  };
  /** The container as recorded at create. */
  container: { readonly id: string; readonly bundle: string; readonly cgroupPath: string; readonly noNewKeyring?: boolean };
  /** What was read of the container's init: its namespaces that differ from tsrun's own, whether its user
   *  namespace maps root, HOME for a uid from its /etc/passwd, and the seccomp profile saved at create. */
  joined: {
    readonly namespaces: readonly JoinedNamespace[];
    readonly usernsRoot: boolean;
    /** setgroups is "deny" in the container's user namespace. */
    readonly setgroupsDenied?: boolean;
    readonly home: (uid: number) => string;
    readonly seccomp?: LinuxSeccomp;
  };
  host: {
    /** The driver of the container's cgroup (cgroupDriver(container.cgroupPath)). */
    readonly cgroup: Pick<CgroupDriver, "joinPlan">;
    /** Rootless cgroups: whether the caller may move a process into the container's cgroup
     *  (probeCgroupAccess); absent: it may. */
    readonly cgroupAccess?: CgroupAccess;
    /** The caller's euid, for the message when it may not. */
    readonly euid?: number;
    readonly hostCaps: bigint;
    readonly lastCap: number;
    readonly hostLimits?: HostLimits;
    readonly onlineCpus?: bigint[];
    /** false for a rootless caller (src/security/rootless.ts). */
    readonly hostRoot?: boolean;
  };
}

export interface PlannedExec {
  /** The process as it will run (the config's with the flags, or the --process file's). */
  readonly process: Readonly<Process>;
  readonly terminal: boolean;
  readonly detach: boolean;
  readonly preserveFds: number;
  readonly subCgroups: SubCgroups;
  /** How the process gets into the container's cgroup (or its sub-cgroups). */
  readonly cgroupJoin: { readonly cloneInto: string; readonly selfTasks: readonly string[]; readonly parentJoins: readonly string[] };
  readonly namespaces: readonly JoinedNamespace[];
  readonly launch: ExecPlan;
  readonly encoded: Buffer;
}

/** Phase 1 of exec: every decision and every error of the request, nothing made. */
export function planExec(req: ExecRequest): PlannedExec {
  const { flags, container, joined, host } = req;
  const subCgroups = parseSubCgroups(flags.cgroups ?? []);
  const { proc, source } = execProcess(req);
  // runc's rules: a terminal of a detached process goes to a console socket; one of a process tsrun
  // waits for is attached to the caller's terminal.
  const consoleSocket = flags.consoleSocket !== undefined ? resolve(flags.consoleSocket) : undefined;
  checkConsoleFlags(proc.terminal === true, consoleSocket, flags.detach === true);
  const pidfd = planPidfdSocket(flags.pidfdSocket, "exec");
  const field = flags.processFile === undefined ? "/process" : "";
  const cgroupJoin = execCgroupJoin(req, subCgroups);
  if (!proc.env?.some((e) => e.startsWith("HOME="))) proc.env = [...(proc.env ?? []), `HOME=${joined.home(proc.user.uid)}`];
  const launch = inSource(source, flags.processFile !== undefined, () => {
    // The pty comes from the container's devpts; /dev/console stays the init's.
    const terminal = proc.terminal
      ? planTerminal({ consoleSocket, foreground: !flags.detach, consoleSize: proc.consoleSize, uid: proc.user.uid, mountConsole: false, field })
      : undefined;
    return buildExecPlan({
      process: proc,
      namespaces: joined.namespaces,
      cgroupJoin,
      hostCaps: host.hostCaps,
      lastCap: host.lastCap,
      usernsRoot: joined.namespaces.some((n) => n.type === "user") && joined.usernsRoot,
      setgroupsDenied: joined.setgroupsDenied,
      hostRoot: host.hostRoot,
      hostLimits: host.hostLimits,
      onlineCpus: host.onlineCpus,
      sessionKeyring: container.noNewKeyring ? undefined : container.id,
      seccomp: joined.seccomp && compileSeccomp(joined.seccomp),
      preserveFds: flags.preserveFds ?? 0,
      foreground: !flags.detach,
      field,
      stage0: [...pidfd.stage0, ...(terminal?.stage0 ?? [])],
      joined: [...pidfd.child, ...(terminal?.child ?? [])],
    });
  });
  return Object.freeze({
    process: proc,
    terminal: proc.terminal === true,
    detach: flags.detach === true,
    preserveFds: flags.preserveFds ?? 0,
    subCgroups,
    cgroupJoin,
    namespaces: joined.namespaces,
    launch: Object.freeze(launch),
    encoded: encodePlan(launch.records),
  });
}

/**
 * How the process joins the container's cgroup: as the init did, or (--cgroup) a sub-cgroup of it. A
 * container with no cgroup of its own (rootless): the process stays in the caller's, as the init did;
 * --cgroup is refused. A rootless caller that may not move a process into the cgroup is told why here,
 * rather than by the kernel's EACCES from tsrun-init.
 */
function execCgroupJoin(req: ExecRequest, subCgroups: SubCgroups): PlannedExec["cgroupJoin"] {
  const { container, host } = req;
  if (container.cgroupPath === NO_CGROUP) {
    if (subCgroups.size) requireOwnCgroup(container.id, container.cgroupPath, "exec --cgroup into");
    return { cloneInto: "", selfTasks: [], parentJoins: [] };
  }
  const access = host.cgroupAccess;
  if (access && !access.writable) {
    throw new ContainerStateError(
      container.id,
      `cannot exec in container ${container.id}: cannot join its cgroup ${container.cgroupPath}: ${access.blocked} is not writable by uid ${host.euid ?? "?"} (${access.why})`,
    );
  }
  return host.cgroup.joinPlan(false, subCgroups);
}

/** The process to run: from --process (validated as the config's process is), or the config's with the flags. */
function execProcess(req: ExecRequest): { proc: Process; source: string } {
  const opts = req.flags;
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
    if (n >= 0 && !((req.host.hostCaps >> BigInt(n)) & 1n)) throw new UsageError(`--cap ${c}: not available on this host`);
  }
  const base = loadBundle(req.container.bundle).spec.process;
  if (!base) throw new UsageError(`exec: the config of container ${req.container.id} has no process to start from; give --process FILE`);
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
