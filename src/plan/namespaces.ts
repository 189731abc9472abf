import { ConfigError } from "../errors.js";

/** clone(2)/setns(2) flag of each OCI namespace type. */
export const NAMESPACE_FLAGS: Record<string, number> = {
  mount: 0x00020000, // CLONE_NEWNS
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  time: 0x00000080,
};

export interface NamespacePlan {
  /** Flags for clone: new namespaces the child is born into. */
  cloneFlags: number;
  /** Flags unshared by the child after it is in its cgroup: cgroup (its root must be the container's
   *  cgroup) and time (CLONE_NEWTIME cannot be a clone(2) flag). */
  lateUnshare: number;
  /** Namespaces joined by path, in the order to join them (user first, mount last). */
  join: { type: string; flag: number; path: string }[];
  /** The set of namespace types that are private to the container (new or joined). */
  types: Set<string>;
  newUser: boolean;
}

/** One line of a uid or gid map: ids containerID.. inside are hostID.. outside. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** Whether id (inside) is mapped. Pure. */
export function mapsId(m: readonly IdMapping[] | undefined, id: number): boolean {
  return (m ?? []).some((x) => id >= x.containerID && id < x.containerID + x.size);
}

/** The text of /proc/<pid>/uid_map or gid_map ("inside outside count" lines) as mappings. Pure. */
export function parseIdMap(text: string): IdMapping[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((f) => f.length === 3 && f.every(Number.isInteger))
    .map(([containerID, hostID, size]) => ({ containerID: containerID!, hostID: hostID!, size: size! }));
}

const JOIN_ORDER = ["user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"];

/** Turn linux.namespaces into clone flags, late unshares and paths to join. Pure. */
export function planNamespaces(namespaces: readonly { type: string; path?: string }[] | undefined): NamespacePlan {
  let cloneFlags = 0;
  let lateUnshare = 0;
  const join: NamespacePlan["join"] = [];
  const types = new Set<string>();
  (namespaces ?? []).forEach((ns, i) => {
    const flag = NAMESPACE_FLAGS[ns.type];
    if (flag === undefined) throw new ConfigError(`/linux/namespaces/${i}/type`, `unknown namespace type "${ns.type}"`);
    if (types.has(ns.type)) throw new ConfigError(`/linux/namespaces/${i}/type`, `namespace "${ns.type}" is listed twice`);
    types.add(ns.type);
    if (ns.path) join.push({ type: ns.type, flag, path: ns.path });
    else if (ns.type === "cgroup" || ns.type === "time") lateUnshare |= flag;
    else cloneFlags |= flag;
  });
  join.sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
  return { cloneFlags, lateUnshare, join, types, newUser: (cloneFlags & NAMESPACE_FLAGS.user) !== 0 };
}
