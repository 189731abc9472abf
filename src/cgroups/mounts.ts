import { basename, join } from "node:path";
import type { CgroupHierarchy } from "./hierarchy.js";

/** One cgroup filesystem the container is shown, as the rootfs planner mounts it. Plain data. */
export interface CgroupFsMount {
  /** Where it goes below the mount's destination ("" for the destination itself). */
  sub: string;
  fstype: "cgroup" | "cgroup2";
  /** Mount data of a fresh mount (in a cgroup namespace): the v1 controllers, "" for v2. */
  data: string;
  /** The container's cgroup directory in this hierarchy (bound when there is no cgroup namespace). */
  hostDir: string;
  /** Links to `sub` beside it, one per co-mounted controller (cpu and cpuacct for cpu,cpuacct). */
  links: string[];
}

/** What the config's cgroup mounts become on this host (CgroupDriver.mounts()). */
export interface CgroupMounts {
  /**
   * `type: cgroup`: one filesystem at the destination (a v2-only host), or, as runc does on a v1 or
   * hybrid host, a tmpfs there with one mount per hierarchy in it.
   */
  cgroup: { tmpfs: boolean; mounts: CgroupFsMount[] };
  /** `type: cgroup2`: the container's own v2 cgroup whatever the layout; null when the host has none. */
  cgroup2: CgroupFsMount | null;
}

/** Where the host mounts its hierarchies: a container's tmpfs gets the same names below it. */
const HOST_ROOT = "/sys/fs/cgroup";

/** The container's cgroup mounts for its cgroup path over these hierarchies. Pure. */
export function cgroupMountsOf(cgroupPath: string, hierarchies: readonly CgroupHierarchy[]): CgroupMounts {
  const v1 = hierarchies.filter((h) => h.version === 1);
  const v2 = hierarchies.find((h) => h.version === 2);
  const entry = (h: CgroupHierarchy, sub: string): CgroupFsMount => ({
    sub,
    fstype: h.version === 2 ? "cgroup2" : "cgroup",
    data: h.version === 2 ? "" : h.controllers,
    hostDir: join(h.mountPoint, cgroupPath),
    links: [],
  });
  const cgroup2 = v2 ? entry(v2, "") : null;
  if (v1.length === 0 && cgroup2) return { cgroup: { tmpfs: false, mounts: [cgroup2] }, cgroup2 };
  const mounts = [...v1, ...(v2 ? [v2] : [])].map((h) => {
    const rel = h.mountPoint.startsWith(HOST_ROOT + "/") ? h.mountPoint.slice(HOST_ROOT.length + 1) : basename(h.mountPoint);
    const e = entry(h, rel);
    // Co-mounted controllers (cpu,cpuacct) are reached through a link per controller, as on hosts.
    const names = h.controllers.split(",").filter((c) => c && !c.startsWith("name="));
    if (names.length > 1) e.links = names.filter((c) => c !== rel);
    return e;
  });
  return { cgroup: { tmpfs: true, mounts }, cgroup2 };
}
