/**
 * src/cgroups/hierarchy.ts: finding the host's cgroup hierarchies in /proc/self/mountinfo.
 */
import { layoutOf, parseCgroupMounts } from "../../src/cgroups/hierarchy.js";

/** This machine's shape: v1 controllers + name=systemd + cgroup2 at /sys/fs/cgroup/unified. */
const HYBRID = `22 1 0:20 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** A systemd host on cgroup v2 only. */
const UNIFIED = `24 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw,discard
25 24 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
27 24 0:5 / /dev rw,nosuid,relatime shared:3 - devtmpfs udev rw,size=4000000k,nr_inodes=1000000,mode=755
`;

/** An older systemd host on v1, with comounted controllers and an unused cgroup2 mount absent. */
const LEGACY = `25 20 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpuset,clone_children
`;

describe("parseCgroupMounts", () => {
  test("hybrid host: every v1 hierarchy plus the cgroup2 mount, the tmpfs ignored", () => {
    const h = parseCgroupMounts(HYBRID);
    expect(h).toEqual([
      { mountPoint: "/sys/fs/cgroup/cpu", version: 1, controllers: "cpu" },
      { mountPoint: "/sys/fs/cgroup/cpuacct", version: 1, controllers: "cpuacct" },
      { mountPoint: "/sys/fs/cgroup/cpuset", version: 1, controllers: "cpuset" },
      { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
      { mountPoint: "/sys/fs/cgroup/devices", version: 1, controllers: "devices" },
      { mountPoint: "/sys/fs/cgroup/freezer", version: 1, controllers: "freezer" },
      { mountPoint: "/sys/fs/cgroup/blkio", version: 1, controllers: "blkio" },
      { mountPoint: "/sys/fs/cgroup/pids", version: 1, controllers: "pids" },
      { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: "name=systemd" },
      { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: "" },
    ]);
    expect(layoutOf(h)).toBe("hybrid");
  });

  test("unified host: a single cgroup2 hierarchy", () => {
    const h = parseCgroupMounts(UNIFIED);
    expect(h).toEqual([{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }]);
    expect(layoutOf(h)).toBe("unified");
  });

  test("legacy host: comounted controllers kept together, mount options dropped", () => {
    const h = parseCgroupMounts(LEGACY);
    expect(h).toEqual([
      { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: "name=systemd" },
      { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", version: 1, controllers: "cpu,cpuacct" },
      { mountPoint: "/sys/fs/cgroup/net_cls,net_prio", version: 1, controllers: "net_cls,net_prio" },
      { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
      { mountPoint: "/sys/fs/cgroup/cpuset", version: 1, controllers: "cpuset" },
    ]);
    expect(layoutOf(h)).toBe("legacy");
  });

  test("octal escapes in the mount point are decoded", () => {
    const h = parseCgroupMounts("40 31 0:37 / /mnt/my\\040cgroups/cpu rw,relatime - cgroup cgroup rw,cpu\n");
    expect(h).toEqual([{ mountPoint: "/mnt/my cgroups/cpu", version: 1, controllers: "cpu" }]);
  });

  test("a bind mount of part of a hierarchy (root not /) is ignored", () => {
    const text = `${UNIFIED}90 24 0:23 /system.slice/docker.service /var/lib/x rw,relatime - cgroup2 cgroup2 rw\n`;
    expect(parseCgroupMounts(text)).toEqual([{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }]);
    const v1 = `${LEGACY}91 24 0:28 /user.slice /mnt/mem rw - cgroup cgroup rw,memory\n`;
    expect(parseCgroupMounts(v1).filter((x) => x.controllers === "memory")).toEqual([
      { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: "memory" },
    ]);
  });

  test("a second mount of a whole v1 hierarchy elsewhere is dropped (first one kept)", () => {
    const text = `${LEGACY}92 24 0:28 / /mnt/again rw - cgroup cgroup rw,memory\n`;
    expect(parseCgroupMounts(text).filter((x) => x.controllers === "memory").map((x) => x.mountPoint)).toEqual(["/sys/fs/cgroup/memory"]);
  });

  test("a second mount of the cgroup2 root elsewhere is dropped too (there is one v2 hierarchy)", () => {
    const text = `${UNIFIED}93 24 0:23 / /run/other/cgroup rw,relatime - cgroup2 cgroup2 rw\n`;
    expect(parseCgroupMounts(text)).toEqual([{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }]);
  });

  test("optional fields (shared:N master:M) before the separator do not confuse parsing", () => {
    const h = parseCgroupMounts("26 25 0:23 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw\n");
    expect(h).toEqual([{ mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" }]);
  });

  test("no cgroup mounts, empty text", () => {
    expect(parseCgroupMounts("")).toEqual([]);
    expect(parseCgroupMounts("22 1 0:20 / / rw - ext4 /dev/sda rw\n")).toEqual([]);
  });
});

describe("layoutOf", () => {
  test("v1 with only named hierarchies and a cgroup2 mount is unified (controllers are all on v2)", () => {
    expect(layoutOf([
      { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: "name=systemd" },
      { mountPoint: "/sys/fs/cgroup", version: 2, controllers: "" },
    ])).toBe("unified");
  });
});
