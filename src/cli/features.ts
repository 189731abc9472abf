import { SYSTEMD_PROPERTY_PREFIX } from "../cgroups/systemd/annotations.js";
import { MEMORY_POLICY_FLAGS, MEMORY_POLICY_MODES } from "../security/memory-policy.js";
import { HOOK_KINDS } from "../hooks/kinds.js";
import { NAMESPACE_FLAGS } from "../plan/namespaces.js";
import { CAPABILITIES } from "../security/capabilities.js";
import { MOUNT_OPTION_NAMES } from "../fs/mount-options.js";
import { kernelCanIdmap } from "../fs/idmapped-mounts.js";
import { release } from "node:os";
import { filterArchNames } from "../security/seccomp/arch.js";
import { SECCOMP_ACTIONS, SECCOMP_FLAGS, SECCOMP_OPERATORS } from "../security/seccomp/compile.js";
import { COMMIT, SPEC_VERSION, VERSION } from "../version.js";

/** Flags the running kernel takes: all but WAIT_KILLABLE_RECV, which came with Linux 5.19. */
function supportedSeccompFlags(): string[] {
  const [major = 0, minor = 0] = release().split(".").map((x) => parseInt(x, 10));
  const killable = major > 5 || (major === 5 && minor >= 19);
  return Object.keys(SECCOMP_FLAGS).filter((f) => killable || f !== "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
}

/**
 * Annotations of config.json that change what tsrun does (features.md
 * `potentiallyUnsafeConfigAnnotations`; a trailing "." is a prefix). Only those tsrun reads: the
 * systemd driver turns `org.systemd.property.<Name>` into unit properties. runc also lists "bundle"
 * and "org.criu.config", which tsrun does not read.
 */
export const UNSAFE_CONFIG_ANNOTATIONS = [SYSTEMD_PROPERTY_PREFIX];

/**
 * runtime-spec 1.3 features.md / features-linux.md: what this build of tsrun can honour (only what is
 * implemented). Every object the spec defines is present, false or empty where tsrun refuses the field.
 */
export function features() {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: SPEC_VERSION,
    hooks: [...HOOK_KINDS],
    mountOptions: MOUNT_OPTION_NAMES,
    linux: {
      namespaces: Object.keys(NAMESPACE_FLAGS),
      capabilities: CAPABILITIES,
      // systemd: the systemd driver (--systemd-cgroup), for the system and the user instance; rdma:
      // linux.resources.rdma is written to rdma.max where the controller is mounted (an error where not).
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: true, rdma: true },
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
      // linux.intelRdt is refused (/linux/intelRdt), so neither schemata nor enableMonitoring is honoured.
      intelRdt: { enabled: false, schemata: false, monitoring: false },
      // Idmapped bind mounts (mount uidMappings/gidMappings, idmap, ridmap) take mount_setattr(2), Linux >= 5.12;
      // whether a given filesystem can be idmapped is the kernel's answer at create (refused naming the mount).
      mountExtensions: { idmap: { enabled: kernelCanIdmap() } },
      // linux.netDevices: moved into the container's netns at create, back on delete.
      netDevices: { enabled: true },
      // set_mempolicy(2) takes every mode and flag as named; the kernel judges the combination.
      memoryPolicy: { modes: Object.keys(MEMORY_POLICY_MODES), flags: Object.keys(MEMORY_POLICY_FLAGS) },
    },
    // As runc's org.opencontainers.runc.version and .commit.
    annotations: { "io.github.tsrun.version": VERSION, "io.github.tsrun.commit": COMMIT },
    potentiallyUnsafeConfigAnnotations: [...UNSAFE_CONFIG_ANNOTATIONS],
  };
}
