import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import type { Hooks, LinuxDevice, LinuxMemoryPolicy, LinuxSeccomp } from "../spec/types.js";
import { hooksOf } from "../hooks/kinds.js";
import { planHooks, SLOT_STATE_CREATED, SLOT_STATE_CREATING } from "../hooks/plan.js";
import { type CompiledSeccomp, compileSeccomp } from "../security/seccomp/compile.js";
import type { CgroupMounts } from "../cgroups/mounts.js";
import { S_IFIFO } from "../fs/devices.js";
import { fileInLayers, type LayerSetup, planOverlay } from "../fs/layers.js";
import { planMaskedAndReadonly } from "../fs/masked-paths.js";
import { type ConfigMount, planRootfs, planRootUnbindable } from "../fs/rootfs-plan.js";
import { parentMount } from "../fs/shared-parent-mount.js";
import { type IdMapping, mapsId, type NamespacePlan, NAMESPACE_FLAGS, planNamespaces } from "./namespaces.js";
import { Op, PR_SET_DUMPABLE, type PlanRecord } from "../launch/ops.js";
import { procfsWrite, withProcfsHandle } from "../launch/procfs.js";
import {
  planInitialAffinity,
  planOomScoreAdj,
  planProcess,
  planSeccomp,
  type ProcessPlanInput,
  type ProcessSpec,
  SECCOMP_LISTENER_SLOT,
  whileDumpable,
} from "./process.js";
import { checkConsoleFlags, planTerminal } from "./terminal.js";
import { planPidfdSocket } from "./pidfd-socket.js";
import { planSessionKeyring } from "../security/keyring.js";
import { planPersonality } from "../security/personality.js";
import { planMemoryPolicy } from "../security/memory-policy.js";
import type { HostLimits } from "../security/rlimits.js";
import { type LsmState, probeLsm } from "../security/lsm.js";
import { planSysctl } from "../security/sysctl.js";

/** The parts of an OCI config the launch plan reads (the full Spec type is assignable to it). */
export interface PlanSpec {
  process?: ProcessSpec;
  hooks?: Hooks;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: ConfigMount[];
  linux?: {
    namespaces?: { type: string; path?: string }[];
    uidMappings?: IdMapping[];
    gidMappings?: IdMapping[];
    timeOffsets?: Record<string, { secs?: number; nanosecs?: number }>;
    devices?: LinuxDevice[];
    sysctl?: Record<string, string>;
    rootfsPropagation?: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    mountLabel?: string;
    personality?: { domain: string; flags?: string[] };
    seccomp?: LinuxSeccomp;
    memoryPolicy?: LinuxMemoryPolicy;
  };
}

export type { IdMapping } from "./namespaces.js";

export interface PlanInput {
  spec: PlanSpec;
  /** The seccomp compiler: compileSeccomp, or the caller's cache in front of it (security/seccomp/cache.ts). */
  compileSeccomp?: (profile: LinuxSeccomp) => CompiledSeccomp;
  rootfs: string;
  bundle: string;
  fifoPath: string;
  noPivot: boolean;
  preserveFds: number;
  /** `run` without --detach: stage 0 stays and exits with the container's status (and relays the
   *  caller's terminal when process.terminal is true). */
  foreground: boolean;
  /** --console-socket (absolute): where the pty master goes when process.terminal is true. */
  consoleSocket?: string;
  /** --pidfd-socket: where the init sends a pidfd of itself (src/plan/pidfd-socket.ts). */
  pidfdSocket?: string;
  /** The container's cgroup filesystems, for cgroup mounts (CgroupDriver.mounts()). */
  cgroupMounts: CgroupMounts;
  /** How the init joins its cgroup (CgroupDriver.joinPlan): a v2 directory to clone into, and v1 `tasks`
   *  files the init writes "0" to before anything else. */
  cgroupJoin: { cloneInto: string; selfTasks: readonly string[] };
  /** The host's capability bounding set and /proc/sys/kernel/cap_last_cap. */
  hostCaps: bigint;
  lastCap: number;
  /** /proc/self/mountinfo's text, for the mount holding the rootfs (a shared linux.rootfsPropagation);
   *  read when undefined and needed. */
  mountinfo?: string;
  /** Whether SELinux is enabled on the host (linux.mountLabel is applied only then); probed when undefined. */
  selinux?: boolean;
  /** tsrun.layers, resolved (resolveLayers) and with their upper/work dirs made: mounted on `rootfs`. */
  layers?: LayerSetup;
  /** The container id, when the init is to join a new session keyring named after it (none with
   *  --no-new-keyring: the process keeps the caller's). */
  sessionKeyring?: string;
  /** Host facts the process checks use (absent: not checked / probed), see ProcessPlanInput. */
  hostLimits?: HostLimits;
  lsm?: LsmState;
  onlineCpus?: bigint[];
  /** The host's online NUMA nodes (linux.memoryPolicy; absent: no NUMA support, a policy is refused). */
  numaNodes?: bigint[];
  /** Whether a network namespace file is tsrun's own (linux.sysctl net.* keys are refused there). */
  isHostNetns?: (path: string) => boolean;
  /** tsrun runs as host root (euid 0; read when undefined): only then can stage 0 open bind mount sources
   *  in the container's mount namespace for a new user namespace (runc skips this when rootless too). */
  hostRoot?: boolean;
  /** setgroups is denied in the new user namespace (src/plan/id-maps.ts). */
  setgroupsDenied?: boolean;
  /** tsrun itself is not host root in the initial user namespace (a non-root euid, or root of a user namespace:
   *  rootless podman): mknod is refused and copied mounts have locked flags even without a user namespace of
   *  the container's own. */
  rootless?: boolean;
}

export interface LaunchPlan {
  records: PlanRecord[];
  namespaces: NamespacePlan;
  /** Things the config asks that this host ignores, for the caller to warn about (one line each). */
  warnings: string[];
  /** The tag of the first SYNC point: the child waits there while the parent writes id maps and joins the
   *  cgroup. When the config has createContainer or startContainer hooks, the parent answers it with their
   *  state JSON in the slots of `stateSlots`. */
  syncTag: string;
  /** Sync data the init's own hooks read: slot -> status of the state sent in it (empty: send nothing). */
  stateSlots: { slot: number; status: "creating" | "created" }[];
  /** The tag of the second SYNC point, when the config has prestart or createRuntime hooks: once every mount
   *  is made, right before pivot_root, the parent runs them there (the child waits). */
  hooksSyncTag?: string;
  /** The filter has NOTIFY rules: at the sync, the parent sends the container process state (with the
   *  init's pid) in this sync data slot; tsrun-init passes it to the listener with the notify fd. */
  seccompListener?: { slot: number; metadata?: string };
  /** Syscall names of linux.seccomp that no architecture of the filter knows (skipped, as runc does). */
  seccompSkipped: string[];
}

export const SYNC_SETUP = "setup";
/** Why a second sync point: prestart and createRuntime hooks run "after the runtime environment has been
 *  created but before pivot_root" (config.md), so a hook that mounts into the container's root (through
 *  /proc/<pid>/root or setns) finds the config's mounts made, and nothing mounted after it covers its work. At
 *  the first sync point not one mount exists yet. */
export const SYNC_HOOKS = "hooks";
export { DEFAULT_PATH } from "./process.js";

/** Spec -> launch plan. Every decision about the container is made here; tsrun-init only executes. */
export function buildPlan(input: PlanInput): LaunchPlan {
  const { spec } = input;
  const linux = spec.linux ?? {};
  const ns = planNamespaces(linux.namespaces);
  const recs: PlanRecord[] = [];
  const warnings: string[] = [];

  // Without a mount namespace of its own the root is built in the caller's namespace (as runc does) and a
  // path cannot be hidden there without hiding it from the host too: refused as runc refuses it.
  const noMountNs = !ns.types.has("mount");
  if (noMountNs && (linux.maskedPaths?.length || linux.readonlyPaths?.length)) {
    throw new ConfigError(linux.maskedPaths?.length ? "/linux/maskedPaths" : "/linux/readonlyPaths", "masked and read-only paths need a mount namespace of its own in /linux/namespaces");
  }
  if ((spec.hostname !== undefined && spec.hostname !== "") || spec.domainname) {
    if (!ns.types.has("uts")) throw new ConfigError(spec.hostname ? "/hostname" : "/domainname", "setting it needs a private uts namespace in /linux/namespaces");
  }
  if (linux.timeOffsets && !(ns.lateUnshare & NAMESPACE_FLAGS.time)) {
    throw new ConfigError("/linux/timeOffsets", "needs a new time namespace in /linux/namespaces");
  }
  if (ns.newUser && !linux.uidMappings?.length) throw new ConfigError("/linux/uidMappings", "a new user namespace needs uid mappings");
  if (ns.newUser && !linux.gidMappings?.length) throw new ConfigError("/linux/gidMappings", "a new user namespace needs gid mappings");
  checkConsoleFlags(spec.process?.terminal === true, input.consoleSocket, !input.foreground);
  const terminal = spec.process?.terminal
    ? planTerminal({
        consoleSocket: input.consoleSocket,
        foreground: input.foreground,
        consoleSize: spec.process.consoleSize,
        uid: spec.process.user.uid,
        mountConsole: true,
      })
    : undefined;
  const pidfd = planPidfdSocket(input.pidfdSocket, "create");
  // Compiled before anything is planned: a bad profile fails create with its JSON path.
  const seccomp = spec.process && linux.seccomp ? (input.compileSeccomp ?? compileSeccomp)(linux.seccomp) : undefined;

  const proc = spec.process;
  // In a new user namespace the init holds every capability of that namespace (a new namespace's
  // bounding set is full), whatever tsrun's own bounding set lacks.
  const allCaps = (1n << BigInt(input.lastCap + 1)) - 1n;
  const procInput: ProcessPlanInput = {
    hostCaps: ns.newUser ? allCaps : input.hostCaps,
    lastCap: input.lastCap,
    hostLimits: input.hostLimits,
    lsm: proc?.apparmorProfile || proc?.selinuxLabel ? (input.lsm ?? probeLsm()) : input.lsm,
    onlineCpus: input.onlineCpus,
    seccomp: seccomp && planSeccomp(seccomp),
    setgroupsDenied: input.setgroupsDenied,
  };
  // Checked before anything runs (the records are placed below).
  const sysctls = planSysctl(linux.sysctl, ns, input.isHostNetns ?? (() => false));
  const personality = linux.personality ? planPersonality(linux.personality) : undefined;
  const memoryPolicy = linux.memoryPolicy ? planMemoryPolicy(linux.memoryPolicy, input.numaNodes) : undefined;
  // Both right before the exec fifo and the filter, in the process that execs (runc's order).
  const setup = [personality, memoryPolicy].filter((r): r is PlanRecord => r !== undefined);

  // Stage 0: the console and pidfd sockets (host paths: before any setns), the exec fifo (made as host root),
  // namespaces joined by path, then the clone.
  if (terminal) recs.push(...terminal.stage0);
  recs.push(...pidfd.stage0);
  // Mode 0622 under umask 0: the init opens it for writing after it has become the container's user.
  // Only root can reach it: the state directory is 0700.
  recs.push({ op: Op.UMASK, ints: [0] });
  // Owned by the caller (host root, or a rootless user, who may not give it away to root).
  recs.push({ op: Op.MKNOD, ints: [S_IFIFO | 0o622, 0, 0, process.geteuid?.() ?? 0, process.getegid?.() ?? 0], strs: [input.fifoPath] });
  // Opened here, as host root: a child in a new user namespace may not reach the state directory.
  recs.push({ op: Op.OPEN_FIFO, strs: [input.fifoPath] });
  // The listener socket is connected here, with the host's root and namespaces (the container's root
  // cannot reach it after the pivot); the fd follows the clone to the SECCOMP record.
  if (seccomp?.notify) recs.push({ op: Op.SECCOMP_LISTENER, strs: [seccomp.listenerPath!] });
  // Set on stage 0 itself, as host root before any namespace is joined: the child inherits it at the clone.
  // (In a user namespace of its own the child could not open the file: a non-dumpable process's /proc
  // files are host root's. runc writes it from the parent, too.)
  if (proc?.oomScoreAdj !== undefined) recs.push(...planOomScoreAdj(proc.oomScoreAdj, "/process/oomScoreAdj", input.hostRoot));
  for (const j of ns.join) recs.push({ op: Op.SETNS, ints: [j.flag], strs: [j.path] });
  // execCPUAffinity.initial: set before the clone, so the child is born with it, before its cgroup.
  const initialCpus = proc && planInitialAffinity(procInput, proc);
  if (initialCpus) recs.push(initialCpus);
  recs.push({ op: Op.CLONE, ints: [ns.cloneFlags, input.foreground ? 1 : 0], strs: [input.cgroupJoin.cloneInto] });
  for (const tasks of input.cgroupJoin.selfTasks) recs.push({ op: Op.WRITE_FILE, strs: [tasks, "0"] });

  // The child waits until it has its id maps and is in its cgroup: no container code runs before.
  // Without host root the caller writes the maps (or newuidmap does, which checks the caller owns the
  // child): a non-dumpable child's /proc files are host root's, so it is dumpable for that moment only,
  // before any container code can run (runc does the same).
  const dumpable = ns.newUser && input.hostRoot === false;
  if (dumpable) recs.push({ op: Op.PRCTL, ints: [PR_SET_DUMPABLE, 1] });
  recs.push({ op: Op.SYNC, strs: [SYNC_SETUP] });
  if (dumpable) recs.push({ op: Op.PRCTL, ints: [PR_SET_DUMPABLE, 0] });
  if (ns.newUser && mapsId(linux.uidMappings, 0) && mapsId(linux.gidMappings, 0)) recs.push({ op: Op.SETRESID, ints: [0, 0] });
  // A session of its own, as runc's init: the container never shares the caller's controlling terminal
  // (through /dev/tty it could read or write it), and a terminal can become its controlling one.
  recs.push({ op: Op.SETSID });
  // The pidfd once the init is in its cgroup with its id maps, long before its filter (runc's order).
  recs.push(...pidfd.child);
  if (ns.lateUnshare) recs.push({ op: Op.UNSHARE, ints: [ns.lateUnshare] });
  // First thing as the container's root, as runc does: never the caller's session keyring.
  if (input.sessionKeyring !== undefined) {
    // The keyring gets the process's SELinux label, as runc gives it (the kernel forgets keycreate at execve).
    if (proc?.selinuxLabel && procInput.lsm?.selinux) recs.push(procfsWrite("self/attr/keycreate", proc.selinuxLabel, "/process/selinuxLabel"));
    recs.push(planSessionKeyring(input.sessionKeyring, ns.newUser));
  }
  if (linux.timeOffsets && Object.keys(linux.timeOffsets).length) {
    const w = procfsWrite("self/timens_offsets", timensOffsets(linux.timeOffsets), "/linux/timeOffsets");
    recs.push(...(dumpable ? whileDumpable(w) : [w]));
  }
  if (ns.cloneFlags & NAMESPACE_FLAGS.network) recs.push({ op: Op.LOOPBACK_UP });

  // The hook point before pivot_root: prestart and createRuntime (run by the parent while the child waits),
  // then createContainer (run by the child, in the container's namespaces, host paths still visible).
  const runtimeHooks = hooksOf(spec.hooks, "prestart").length + hooksOf(spec.hooks, "createRuntime").length > 0;
  const beforePivot: PlanRecord[] = [];
  if (runtimeHooks) beforePivot.push({ op: Op.SYNC, strs: [SYNC_HOOKS] });
  const createHooks = planHooks("createContainer", hooksOf(spec.hooks, "createContainer"), SLOT_STATE_CREATING);
  // In the root filesystem's directory, as runc runs them (never in the caller's cwd, a host directory).
  if (createHooks.length) beforePivot.push({ op: Op.CHDIR, strs: [input.rootfs] });
  beforePivot.push(...createHooks);
  const startHooks = planHooks("startContainer", hooksOf(spec.hooks, "startContainer"), SLOT_STATE_CREATED);
  const stateSlots: LaunchPlan["stateSlots"] = [];
  if (hooksOf(spec.hooks, "createContainer").length) stateSlots.push({ slot: SLOT_STATE_CREATING, status: "creating" });
  if (startHooks.length) stateSlots.push({ slot: SLOT_STATE_CREATED, status: "created" });

  let mountLabel: string | undefined;
  if (linux.mountLabel) {
    if (input.selinux ?? selinuxEnabled()) mountLabel = linux.mountLabel;
    else warnings.push(`linux.mountLabel "${linux.mountLabel}" ignored: SELinux is not enabled on this host`);
  }

  const hostRoot = input.hostRoot ?? process.geteuid?.() === 0;
  const sources = { paths: [] as string[], plain: ns.newUser && !noMountNs && hostRoot, idmaps: [] as PlanRecord[] };
  // The overlay first: every later mount record builds on the root it makes (layers need a new mount namespace).
  if (input.layers) recs.push(...planOverlay(input.layers, input.rootfs, undefined, sources));
  // A joined mount namespace gets its root built like a new one (runc does the same), pivot_root included.
  const userNs = ns.types.has("user");
  const joinedUser = ns.join.some((j) => j.type === "user");
  recs.push(
    ...planRootfs({
      rootfs: input.rootfs,
      bundle: input.bundle,
      mounts: spec.mounts ?? [],
      devices: linux.devices,
      readonly: spec.root?.readonly ?? false,
      rootfsPropagation: linux.rootfsPropagation,
      rootfsParent: input.layers ? undefined : rootfsParent(input, linux.rootfsPropagation),
      noPivot: input.noPivot,
      noMountNs,
      sources,
      idmap: { hostRoot: hostRoot && !input.rootless, userNs: joinedUser ? "joined" : ns.newUser ? { uid: linux.uidMappings!, gid: linux.gidMappings! } : undefined },
      userNs,
      unprivileged: userNs || (input.rootless ?? false),
      pidns: ns.types.has("pid"),
      ipcns: ns.types.has("ipc"),
      cgroupns: ns.types.has("cgroup"),
      cgroupMounts: input.cgroupMounts,
      netns: ns.types.has("network"),
      mountLabel,
      beforePivot,
      console: terminal?.child,
    }),
  );
  // Opened by stage 0 right after the clone, as host root, in the child's mount namespace.
  // Idmapped ones are cloned there and idmapped (IDMAP_SOURCE).
  if (sources.paths.length) recs.splice(recs.findIndex((r) => r.op === Op.CLONE), 0, ...sources.idmaps, { op: Op.BIND_SOURCES, strs: sources.paths });
  // After the pivot (as runc), through the procfs handle: a sysctl file acts on the writer's namespaces
  // whichever procfs it is reached by, so the container's /proc is never used (nor needed) for it.
  for (const w of sysctls) recs.push(procfsWrite(`sys/${w.path}`, w.value, w.field));
  recs.push(...planMaskedAndReadonly(linux.maskedPaths, linux.readonlyPaths));
  recs.push(...planRootUnbindable(linux.rootfsPropagation));

  if (spec.hostname) recs.push({ op: Op.SETHOSTNAME, strs: [spec.hostname] });
  if (spec.domainname) recs.push({ op: Op.SETDOMAINNAME, strs: [spec.domainname] });
  // The path WAIT_FIFO reopens the exec fifo by must lead to it: once every mount is made, before the filter.
  recs.push({ op: Op.FIFO_CHECK });

  // startContainer: after `start` opened the fifo, in the container (path resolved in its root), before the
  // process is executed, under the filter as runc runs them; a failure reaches `start` on the fifo. STARTED
  // tells it the process is next.
  const wait: PlanRecord[] = [{ op: Op.READY }, { op: Op.WAIT_FIFO }, ...startHooks, { op: Op.STARTED }];
  if (proc) {
    // With layers, root.path is an empty mount point: the container's /etc/passwd is in the layers.
    const passwd = input.layers ? fileInLayers(input.layers, "etc/passwd") : join(input.rootfs, "etc/passwd");
    recs.push(...planProcess(procInput, proc, { preserveFds: input.preserveFds, setup, wait, passwd }));
  } else {
    recs.push(...setup);
    recs.push({ op: Op.CLOEXEC_FROM, ints: [3 + input.preserveFds] }, ...wait);
  }
  return {
    records: withProcfsHandle(recs),
    namespaces: ns,
    warnings,
    syncTag: SYNC_SETUP,
    stateSlots,
    hooksSyncTag: runtimeHooks ? SYNC_HOOKS : undefined,
    ...(seccomp?.notify ? { seccompListener: { slot: SECCOMP_LISTENER_SLOT, metadata: seccomp.listenerMetadata } } : {}),
    seccompSkipped: seccomp?.skipped ?? [],
  };
}

/** SELinux is enabled when its filesystem is mounted (libselinux's test, without the library). */
/** The mount holding the rootfs, when the root's propagation is shared (only then is it needed). */
function rootfsParent(input: PlanInput, rootfsPropagation: string | undefined): { mountPoint: string; shared: boolean } | undefined {
  if (rootfsPropagation !== "shared" && rootfsPropagation !== "rshared") return undefined;
  let text = input.mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/mountinfo", "utf8");
    } catch {
      return undefined;
    }
  }
  return parentMount(text, input.rootfs);
}

function selinuxEnabled(): boolean {
  return existsSync("/sys/fs/selinux/enforce");
}

/** The text written to /proc/<pid>/uid_map or gid_map. */
function timensOffsets(t: Record<string, { secs?: number; nanosecs?: number }>): string {
  return Object.entries(t).map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`).join("");
}

