/**
 * Types of an OCI runtime-spec 1.x config.json (Linux platform) plus the `tsrun` extension key.
 * Field names are exactly those of the spec (config.md, config-linux.md); schemas/config.schema.json and
 * schemas/tsrun.schema.json describe the same shapes and are what validateSpec() checks against.
 *
 * Integer notes: JSON numbers are parsed as IEEE doubles, so uint64/int64 values above 2^53 (e.g.
 * RLIM_INFINITY 18446744073709551615) arrive rounded. Consumers that need exact 64-bit values must treat
 * anything >= Number.MAX_SAFE_INTEGER as "the maximum" (see spec-notes.md).
 */

/** The whole config.json. Unknown properties are kept and ignored (spec: Extensibility). */
export interface Spec {
  ociVersion: string;
  /** REQUIRED on Linux (config.md: "On all other platforms, this field is REQUIRED"). */
  root: Root;
  mounts?: Mount[];
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
  /** tsrun extension: overlay layers and bridge networking. */
  tsrun?: TsrunExtension;
  [unknown: string]: unknown;
}

export interface Root {
  /** Absolute, or relative to the bundle directory. */
  path: string;
  readonly?: boolean;
}

export interface IDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface Mount {
  /** Path inside the container. Relative paths are deprecated and are taken relative to "/". */
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
  /** Id-mapped mount; must come together with gidMappings. */
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
}

// ---------------------------------------------------------------------------------------------- process

export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  /** At least one entry on Linux; args[0] is looked up like execvp's file. */
  args: string[];
  /** Windows only; accepted and ignored on Linux. */
  commandLine?: string;
  env?: string[];
  /** Absolute path inside the container. */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
  scheduler?: Scheduler;
  ioPriority?: LinuxIOPriority;
  execCPUAffinity?: CPUAffinity;
}

export interface Box {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  /** Windows only. */
  username?: string;
}

export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface POSIXRlimit {
  /** e.g. RLIMIT_NOFILE */
  type: string;
  soft: number;
  hard: number;
}

export type SchedulerPolicy =
  | "SCHED_OTHER"
  | "SCHED_FIFO"
  | "SCHED_RR"
  | "SCHED_BATCH"
  | "SCHED_ISO"
  | "SCHED_IDLE"
  | "SCHED_DEADLINE";

export type SchedulerFlag =
  | "SCHED_FLAG_RESET_ON_FORK"
  | "SCHED_FLAG_RECLAIM"
  | "SCHED_FLAG_DL_OVERRUN"
  | "SCHED_FLAG_KEEP_POLICY"
  | "SCHED_FLAG_KEEP_PARAMS"
  | "SCHED_FLAG_UTIL_CLAMP_MIN"
  | "SCHED_FLAG_UTIL_CLAMP_MAX";

export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export type IOPriorityClass = "IOPRIO_CLASS_RT" | "IOPRIO_CLASS_BE" | "IOPRIO_CLASS_IDLE";

export interface LinuxIOPriority {
  class: IOPriorityClass;
  /** 0 (highest) .. 7 (lowest) */
  priority: number;
}

export interface CPUAffinity {
  /** CPU list such as "0-3,7". */
  initial?: string;
  final?: string;
}

// ------------------------------------------------------------------------------------------------ hooks

export interface Hook {
  /** Absolute path. */
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds, > 0. */
  timeout?: number;
}

export interface Hooks {
  /** Deprecated by the spec, still honoured. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

export type HookName = keyof Hooks;

// ------------------------------------------------------------------------------------------------ linux

export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
  /** Keyed by clock name: "monotonic" or "boottime". */
  timeOffsets?: Record<string, LinuxTimeOffset>;
  devices?: LinuxDevice[];
  /** Keyed by the host interface name. */
  netDevices?: Record<string, LinuxNetDevice>;
  cgroupsPath?: string;
  resources?: LinuxResources;
  intelRdt?: LinuxIntelRdt;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: LinuxPersonality;
  memoryPolicy?: LinuxMemoryPolicy;
}

export type LinuxNamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup" | "time";

/** All namespace types, in the order the spec lists them. */
export const NAMESPACE_TYPES: readonly LinuxNamespaceType[] = [
  "pid",
  "network",
  "mount",
  "ipc",
  "uts",
  "user",
  "cgroup",
  "time",
];

export interface LinuxNamespace {
  type: LinuxNamespaceType;
  /** Join the namespace at this absolute path instead of creating one. */
  path?: string;
}

export interface LinuxTimeOffset {
  secs?: number;
  nanosecs?: number;
}

export interface LinuxDevice {
  type: "c" | "b" | "u" | "p";
  path: string;
  /** Required unless type is "p". */
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface LinuxNetDevice {
  /** Name inside the container; the host name when absent. */
  name?: string;
}

/** The spec lists the first four; runc also accepts the recursive forms, and so does tsrun. */
export type RootfsPropagation =
  | "shared"
  | "slave"
  | "private"
  | "unbindable"
  | "rshared"
  | "rslave"
  | "rprivate"
  | "runbindable";

// -------------------------------------------------------------------------------------------- resources

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  pids?: LinuxPids;
  /** Keyed by RDMA device name. */
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 file name -> content. */
  unified?: Record<string, string>;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  /** "a" (all, the default), "c" or "b". */
  type?: "a" | "c" | "b";
  /** Absent means all ("*"). */
  major?: number;
  minor?: number;
  /** Composition of r, w, m. */
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxBlockIODevice {
  major: number;
  minor: number;
}

/** At least one of weight and leafWeight is present. */
export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice {
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** e.g. "2MB", "1GB", "64KB" (base 1024). */
  pageSize: string;
  limit: number;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxPids {
  /** 1.3: 0 is a limit of zero tasks, -1 no limit, absent: leave pids.max as it is. */
  limit?: number;
}

/** At least one of hcaHandles and hcaObjects is present. */
export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

export interface LinuxIntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  /** runtime-spec 1.3: lines of the resctrl schemata file, each as is. */
  schemata?: string[];
  enableCMT?: boolean;
  enableMBM?: boolean;
  /** 1.3: a monitoring group (mon_groups/) of the container's own; supersedes enableCMT/enableMBM. */
  enableMonitoring?: boolean;
}

// ---------------------------------------------------------------------------------------------- seccomp

export type LinuxSeccompAction =
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_LOG"
  | "SCMP_ACT_NOTIFY";

export type LinuxSeccompOperator =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

export interface LinuxSeccomp {
  defaultAction: LinuxSeccompAction;
  defaultErrnoRet?: number;
  /** SCMP_ARCH_* names (checked by pattern; the seccomp compiler refuses the ones it cannot map). */
  architectures?: string[];
  /** SECCOMP_FILTER_FLAG_* names. */
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

export interface LinuxSyscall {
  names: string[];
  action: LinuxSeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccompArg {
  /** 0..5 */
  index: number;
  value: number;
  valueTwo?: number;
  op: LinuxSeccompOperator;
}

// ---------------------------------------------------------------------------------------- personality &c

export interface LinuxPersonality {
  domain: "LINUX" | "LINUX32";
  flags?: string[];
}

export type MemoryPolicyMode =
  | "MPOL_DEFAULT"
  | "MPOL_BIND"
  | "MPOL_INTERLEAVE"
  | "MPOL_WEIGHTED_INTERLEAVE"
  | "MPOL_PREFERRED"
  | "MPOL_PREFERRED_MANY"
  | "MPOL_LOCAL";

export type MemoryPolicyFlag = "MPOL_F_NUMA_BALANCING" | "MPOL_F_RELATIVE_NODES" | "MPOL_F_STATIC_NODES";

export interface LinuxMemoryPolicy {
  mode: MemoryPolicyMode;
  /** Node list such as "0-3,7". */
  nodes?: string;
  flags?: MemoryPolicyFlag[];
}

// ------------------------------------------------------------------------------------- tsrun extension

/** The top-level `tsrun` key (schemas/tsrun.schema.json). */
export interface TsrunExtension {
  /** Read-only layer directories, bottom first; relative to the bundle or absolute. At least one. */
  layers?: string[];
  /** Persistent writable upper directory (relative to the bundle or absolute); kept on delete. */
  upperDir?: string;
  /** The lower layers are idmapped with the container's new user namespace mappings (Linux >= 5.19): its
   *  root sees the layers' host-root-owned files as its own. */
  idmapLayers?: boolean;
  network?: TsrunNetwork;
}

export interface TsrunNetwork {
  /** Host bridge interface name (created when missing). */
  bridge?: string;
  /** Bridge subnet in CIDR form; addresses omitted from interfaces are allocated from it. */
  subnet?: string;
  /** Gateway IP address (no prefix). */
  gateway?: string;
  interfaces?: TsrunInterface[];
  routes?: TsrunRoute[];
  dns?: TsrunDNS;
  hosts?: TsrunHostEntry[];
  /** Remove the bridge on delete (when no other container uses it). */
  removeBridge?: boolean;
}

export interface TsrunInterface {
  /** Interface name inside the container, e.g. "eth0". */
  name: string;
  /** CIDR addresses (IPv4 or IPv6); allocated from the bridge subnet when omitted. */
  addresses?: string[];
  mtu?: number;
  /** aa:bb:cc:dd:ee:ff */
  mac?: string;
}

export interface TsrunRoute {
  /** CIDR, e.g. 0.0.0.0/0 for the default route. */
  destination: string;
  gateway?: string;
}

export interface TsrunDNS {
  nameservers?: string[];
  search?: string[];
  options?: string[];
}

export interface TsrunHostEntry {
  ip: string;
  names: string[];
}
