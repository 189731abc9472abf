// Host commands the integration tests run themselves (ip, nsenter), found by absolute path.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";

export const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p)) ?? "ip";
export const NSENTER = ["/usr/bin/nsenter", "/usr/sbin/nsenter", "/bin/nsenter"].find((p) => existsSync(p)) ?? "nsenter";

export function sh(file: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** `ip args...`, throwing with its stderr when it fails. */
export function ip(...args: string[]): string {
  const r = sh(IP, args);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Mounts whose mount point is under `dir` (in this process's mount namespace), unmounted lazily and reported. */
export function unmountUnder(dir: string): string[] {
  const found: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n").reverse()) {
    const point = line.split(" ")[4];
    if (point?.startsWith(dir)) {
      found.push(`mount ${point}`);
      spawnSync("umount", ["-l", point]);
    }
  }
  return found;
}

/** Mounts whose mount point is under `dir`, unmounted (lazily) and reported; and live processes whose
 *  command line names `dir` or whose cgroup matches `inCgroup`, reported: what a manager left behind. */
export function mountsAndProcessesUnder(dir: string, inCgroup: (cgroup: string) => boolean = () => false): string[] {
  const leaks = unmountUnder(dir);
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      const cg = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      if ((cmd.includes(dir) || inCgroup(cg)) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) {
        leaks.push(`process ${pid}: ${cmd.replace(/\0/g, " ")}`);
      }
    } catch {
      // exited while we looked
    }
  }
  return leaks;
}
