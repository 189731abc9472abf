import { ConfigError } from "../errors.js";

/** The ipc namespace's sysctls that are not under fs.mqueue (runc's list). */
const IPC_KEYS = new Set([
  "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
  "kernel.shmmni", "kernel.shm_rmid_forced",
]);

/** What the rules need of the container's namespaces (a NamespacePlan of src/plan/namespaces.ts is one). */
export interface SysctlNamespaces {
  /** The namespace types private to the container (new or joined). */
  types: ReadonlySet<string>;
  /** Namespaces joined by path. */
  join: readonly { type: string; path: string }[];
}

export interface SysctlWrite {
  /** The JSON path of the entry, for errors. */
  field: string;
  /** Path under /proc/sys, "/"-separated, no leading slash. */
  path: string;
  value: string;
}

/**
 * linux.sysctl -> the files to write under the container's /proc/sys. Only keys that belong to a
 * namespace the container has of its own are allowed (runc's rules): the ipc keys and fs.mqueue.* need
 * an ipc namespace; net.* a network namespace that is not tsrun's own (`isHostNetns` judges one joined
 * by path); user.* a user namespace; kernel.domainname a uts namespace; kernel.hostname is refused (the `hostname` field sets
 * it); anything else would change the host. A key is dotted ("net.ipv4.ip_forward") or, as sysctl(8)
 * also accepts, slashed ("net/ipv4/conf/eth0.100/forwarding", where dots stay part of a name).
 */
export function planSysctl(
  sysctl: Record<string, string> | undefined,
  ns: SysctlNamespaces,
  isHostNetns: (path: string) => boolean,
): SysctlWrite[] {
  const out: SysctlWrite[] = [];
  for (const [key, value] of Object.entries(sysctl ?? {})) {
    const field = `/linux/sysctl/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    const parts = key.includes("/") ? key.split("/") : key.split(".");
    if (parts.some((p) => p === "" || p === "." || p === "..")) throw new ConfigError(field, `"${key}" is not a sysctl name`);
    const dotted = parts.join(".");
    if (IPC_KEYS.has(dotted) || dotted.startsWith("fs.mqueue.")) {
      if (!ns.types.has("ipc")) throw new ConfigError(field, `"${key}" needs an ipc namespace of the container's own`);
    } else if (dotted.startsWith("net.")) {
      const join = ns.join.find((j) => j.type === "network");
      if (!ns.types.has("network")) throw new ConfigError(field, `"${key}" needs a network namespace of the container's own`);
      if (join && isHostNetns(join.path)) throw new ConfigError(field, `"${key}" is not allowed in the host's network namespace (${join.path})`);
    } else if (dotted.startsWith("user.")) {
      // /proc/sys/user holds the limits of the writer's user namespace (user_namespaces(7)): the container's
      // own ones with a user namespace of its own (runc 1.3 allows them then), the host's without.
      if (!ns.types.has("user")) throw new ConfigError(field, `"${key}" needs a user namespace of the container's own: it would change the host's limits`);
    } else if (dotted === "kernel.domainname") {
      if (!ns.types.has("uts")) throw new ConfigError(field, `"${key}" needs a uts namespace of the container's own`);
    } else if (dotted === "kernel.hostname") {
      throw new ConfigError(field, `"${key}" is not allowed: set the hostname field instead`);
    } else {
      throw new ConfigError(field, `"${key}" is not in a namespace of the container's own: it would change the host`);
    }
    out.push({ field, path: parts.join("/"), value });
  }
  return out;
}
