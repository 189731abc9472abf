import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { hostHierarchies } from "../hierarchy.js";

/**
 * What create --systemd-cgroup needs to know of the host: systemd is PID 1 (sd_booted's test: the
 * /run/systemd/system directory), and for a rootless caller the cgroup of its own systemd instance,
 * user@<uid>.service in its user slice (where logind puts it), when it runs and its bus is there.
 */
export function systemdFacts(euid: number, rootless: boolean): { running: boolean; userManagerCgroup?: string } {
  const running = isDir("/run/systemd/system");
  if (!running || !rootless) return { running };
  const cgroup = `/user.slice/user-${euid}.slice/user@${euid}.service`;
  const v2 = hostHierarchies().find((h) => h.version === 2)?.mountPoint;
  const bus = process.env.DBUS_SESSION_BUS_ADDRESS || (process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, "bus") : "");
  const found = v2 !== undefined && isDir(join(v2, cgroup)) && (bus.startsWith("unix:") || (bus !== "" && existsSync(bus)));
  return found ? { running, userManagerCgroup: cgroup } : { running };
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
