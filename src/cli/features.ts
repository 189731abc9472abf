import { HOOK_KINDS } from "../hooks/kinds.js";
import { NAMESPACE_FLAGS } from "../plan/namespaces.js";
import { CAPABILITIES } from "../security/capabilities.js";
import { MOUNT_OPTION_NAMES } from "../fs/mount-options.js";
import { release } from "node:os";
import { filterArchNames } from "../security/seccomp/arch.js";
import { SECCOMP_ACTIONS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from "../security/seccomp/compile.js";

/** Flags the running kernel takes: all but WAIT_KILLABLE_RECV, which came with Linux 5.19. */
function supportedSeccompFlags(): string[] {
  const [major = 0, minor = 0] = release().split(".").map((x) => parseInt(x, 10));
  const killable = major > 5 || (major === 5 && minor >= 19);
  return Object.keys(SECCOMP_FLAGS).filter((f) => killable || f !== "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
}

/** runtime-spec features.md: what this build of tsrun can honour (only what is implemented). */
export function features() {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.2.0",
    hooks: [...HOOK_KINDS],
    mountOptions: MOUNT_OPTION_NAMES,
    linux: {
      namespaces: Object.keys(NAMESPACE_FLAGS),
      capabilities: CAPABILITIES,
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: true, rdma: false },
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: filterArchNames(),
        knownFlags: Object.keys(SECCOMP_FLAGS),
        supportedFlags: supportedSeccompFlags(),
      },
      // "Irrelevant to the availability ... on the host" (features-linux.md): tsrun applies both where
      // the module is on, and refuses them where it is off.
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: false },
      netDevices: { enabled: true },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { "io.github.tsrun.version": "0.1.0" },
  };
}
