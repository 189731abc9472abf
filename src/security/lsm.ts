import { existsSync, readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import type { PlanRecord } from "../launch/ops.js";
import { procfsWrite } from "../launch/procfs.js";

/** Which Linux security modules are active on the host (probed by `probeLsm`). */
export interface LsmState {
  apparmor: boolean;
  selinux: boolean;
}

/** AppArmor is on when its module says so (as runc checks); SELinux when selinuxfs is mounted. */
export function probeLsm(): LsmState {
  let apparmor = false;
  try {
    apparmor = readFileSync("/sys/module/apparmor/parameters/enabled", "utf8").startsWith("Y");
  } catch {
    // no AppArmor module
  }
  return { apparmor, selinux: existsSync("/sys/fs/selinux/enforce") };
}

/**
 * process.apparmorProfile and process.selinuxLabel -> writes to the process's own /proc attributes,
 * which the kernel applies at the next execve: AppArmor's "exec <profile>" (change_onexec) in
 * /proc/self/attr/apparmor/exec (the stacking-aware file, Linux >= 5.8), SELinux's label in
 * /proc/self/attr/exec, both through the procfs handle (never the container's /proc). On a host where
 * the module is off, asking for either is an error: runc 1.1 fails too (AppArmor late, at init: "write
 * /proc/self/attr/exec: invalid argument"; SELinux at create: "selinux label is specified in config, but
 * selinux is disabled"), and a container must not run less confined than its config says.
 */
export function planLsm(proc: { apparmorProfile?: string; selinuxLabel?: string }, lsm: LsmState, at = "/process"): PlanRecord[] {
  const recs: PlanRecord[] = [];
  if (proc.apparmorProfile) {
    if (!lsm.apparmor) throw new ConfigError(`${at}/apparmorProfile`, "AppArmor is not enabled on this host");
    recs.push(procfsWrite("self/attr/apparmor/exec", `exec ${proc.apparmorProfile}`, `${at}/apparmorProfile`));
  }
  if (proc.selinuxLabel) {
    if (!lsm.selinux) throw new ConfigError(`${at}/selinuxLabel`, "SELinux is not enabled on this host");
    recs.push(procfsWrite("self/attr/exec", proc.selinuxLabel, `${at}/selinuxLabel`));
  }
  return recs;
}
