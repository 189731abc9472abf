/**
 * What `tsrun spec` writes: the content of `runc spec` (runc 1.1.5) except hostname "tsrun"; with `rootless`,
 * that of `runc spec --rootless` (user namespace mapping the caller's euid/egid to root, no network
 * namespace, /sys bind-mounted, no cgroup resources, devpts without gid=5).
 */
import type { Mount, Spec } from "./types.js";

/** The ociVersion `tsrun spec` writes (the one runc 1.1.x writes, so the files are interchangeable). */
export const DEFAULT_SPEC_OCI_VERSION = "1.0.2-dev";

const DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

const MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/proc/scsi",
];

const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

function mounts(rootless: boolean): Mount[] {
  const devptsOptions = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"];
  if (!rootless) devptsOptions.push("gid=5");
  return [
    { destination: "/proc", type: "proc", source: "proc" },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: devptsOptions },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    rootless
      ? { destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"] }
      : { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
}

export function defaultSpec(opts: { rootless?: boolean } = {}): Spec {
  const rootless = opts.rootless === true;
  const spec: Spec = {
    ociVersion: DEFAULT_SPEC_OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "tsrun",
    mounts: mounts(rootless),
    linux: rootless
      ? {
          uidMappings: [{ containerID: 0, hostID: process.geteuid?.() ?? 0, size: 1 }],
          gidMappings: [{ containerID: 0, hostID: process.getegid?.() ?? 0, size: 1 }],
          namespaces: [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "user" }],
          maskedPaths: [...MASKED_PATHS],
          readonlyPaths: [...READONLY_PATHS],
        }
      : {
          resources: { devices: [{ allow: false, access: "rwm" }] },
          namespaces: [
            { type: "pid" },
            { type: "network" },
            { type: "ipc" },
            { type: "uts" },
            { type: "mount" },
          ],
          maskedPaths: [...MASKED_PATHS],
          readonlyPaths: [...READONLY_PATHS],
        },
  };
  return spec;
}
