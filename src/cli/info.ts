import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, Option } from "clipanion";
import { PathError } from "../errors.js";
import { NAMESPACE_FLAGS } from "../plan/namespaces.js";
import { CAPABILITIES } from "../security/capabilities.js";
import { defaultSpec } from "../spec/default-spec.js";
import { TsrunCommand } from "./base.js";

export class SpecCommand extends TsrunCommand {
  static paths = [["spec"]];
  static usage = Command.Usage({ description: "write a starting config.json (as `runc spec`) into the bundle directory" });
  bundle = Option.String("--bundle,-b", ".", { description: "directory to write config.json into" });
  rootless = Option.Boolean("--rootless", false, { description: "a config for a user namespace" });
  run() {
    const file = join(resolve(this.bundle), "config.json");
    if (existsSync(file)) throw new PathError(file, "already exists; remove it first");
    writeFileSync(file, JSON.stringify(defaultSpec({ rootless: this.rootless }), null, "\t") + "\n");
  }
}

/** Mount options understood (mount-options.ts), reported by `features`. */
const MOUNT_OPTIONS = [
  "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime", "loud", "mand",
  "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
  "nosuid", "nosymfollow", "private", "rbind", "relatime", "remount", "ro", "rprivate", "rshared", "rslave",
  "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid", "symfollow", "sync", "unbindable",
];

export class FeaturesCommand extends TsrunCommand {
  static paths = [["features"]];
  static usage = Command.Usage({ description: "print what this runtime supports, as JSON (runtime-spec features.md)" });
  run() {
    const features = {
      ociVersionMin: "1.0.0",
      ociVersionMax: "1.2.0",
      hooks: [],
      mountOptions: MOUNT_OPTIONS,
      linux: {
        namespaces: Object.keys(NAMESPACE_FLAGS),
        capabilities: CAPABILITIES,
        cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
        seccomp: { enabled: false },
        apparmor: { enabled: false },
        selinux: { enabled: false },
        intelRdt: { enabled: false },
        mountExtensions: { idmap: { enabled: false } },
      },
      annotations: { "org.opencontainers.runtime-spec.features.tsrun": "tsrun-core" },
    };
    this.context.stdout.write(JSON.stringify(features, null, 4) + "\n");
  }
}
