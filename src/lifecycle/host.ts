import { readFileSync, statSync } from "node:fs";
import { type HostLimits, parseProcLimits } from "../security/rlimits.js";
import { parseCpuList } from "../security/cpu-list.js";
import { resctrlMount } from "../cgroups/intel-rdt.js";

const CAP_SYS_RESOURCE = 24n;

function statusField(name: string): bigint {
  const m = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, "m").exec(readFileSync("/proc/self/status", "utf8"));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** The capability bounding set of this process (what a container can be given at most). */
export function hostCapabilities(): bigint {
  return statusField("CapBnd");
}

export function lastCap(): number {
  try {
    return Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
  } catch {
    return 40;
  }
}

/** tsrun's own hard rlimits, whether it may raise them, and fs.nr_open. */
export function hostLimits(): HostLimits {
  let nrOpen: number | undefined;
  try {
    nrOpen = Number(readFileSync("/proc/sys/fs/nr_open", "utf8").trim());
  } catch {
    // no such sysctl: no ceiling to check
  }
  return {
    hard: parseProcLimits(readFileSync("/proc/self/limits", "utf8")),
    canRaise: ((statusField("CapEff") >> CAP_SYS_RESOURCE) & 1n) === 1n,
    nrOpen,
  };
}

/** Whether a network namespace file is the one tsrun itself is in ("host" as runc means it: current). */
export function isHostNetns(path: string): boolean {
  try {
    const a = statSync(path);
    const b = statSync("/proc/self/ns/net");
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false; // a missing path fails later, at setns, with its name
  }
}

/** The online CPUs as an affinity mask (undefined when the kernel does not say). */
export function onlineCpus(): bigint[] | undefined {
  try {
    return parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8").trim(), "/sys/devices/system/cpu/online");
  } catch {
    return undefined;
  }
}

/** Where resctrl is mounted in tsrun's mount namespace (linux.intelRdt), or undefined. */
export function resctrlRoot(): string | undefined {
  try {
    return resctrlMount(readFileSync("/proc/self/mountinfo", "utf8"));
  } catch {
    return undefined;
  }
}

/** The online NUMA nodes as a mask (undefined: the kernel has no NUMA support, so no memory policy). */
export function numaNodes(): bigint[] | undefined {
  try {
    return parseCpuList(readFileSync("/sys/devices/system/node/online", "utf8").trim(), "/sys/devices/system/node/online");
  } catch {
    return undefined;
  }
}

/** True when tsrun itself runs in a user namespace other than the initial one (e.g. nested in a
 *  container): the initial namespace maps every id, "0 0 4294967295". */
export function inNestedUserNamespace(): boolean {
  try {
    return readFileSync("/proc/self/uid_map", "utf8").trim().split(/\s+/).join(" ") !== "0 0 4294967295";
  } catch {
    return false;
  }
}
