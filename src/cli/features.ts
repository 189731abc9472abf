import { HOOK_KINDS } from "../hooks/kinds.js";
import { NAMESPACE_FLAGS } from "../plan/namespaces.js";
import { CAPABILITIES } from "../security/capabilities.js";
import { MOUNT_OPTION_NAMES } from "../fs/mount-options.js";

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
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      seccomp: { enabled: false },
      // "Irrelevant to the availability ... on the host" (features-linux.md): tsrun applies both where
      // the module is on, and refuses them where it is off.
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { "io.github.tsrun.version": "0.1.0" },
  };
}
