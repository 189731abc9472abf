// The systemd group's view of its host (test/integration/systemd-*.test.ts): is systemd PID 1 here (the
// systemd VM, test/v2vm/systemd-tests.sh; not this project's own hybrid host), which runtimes the group
// runs against, and systemctl as the tests read it: unit properties, units by pattern, leftovers.
import { spawnSync } from "node:child_process";
import { type Dirent, existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { HIERARCHIES, V2 } from "./cgroups.js";
import { TSRUN } from "./tsrun.js";

export const RUNC = ["/usr/sbin/runc", "/usr/bin/runc"].find(existsSync) ?? "/usr/sbin/runc";

function pid1(): string {
  try {
    return readFileSync("/proc/1/comm", "utf8").trim();
  } catch {
    return "";
  }
}

/** systemd is PID 1 and booted the machine (sd_booted(3): /run/systemd/system), so its bus is there. */
export const SYSTEMD = pid1() === "systemd" && existsSync("/run/systemd/system");
/** What the group needs for its cgroup-file checks: systemd on the unified (cgroup v2 only) hierarchy. */
export const SYSTEMD_V2 = SYSTEMD && V2;

/** Why the group does not run here, for the "not checked on this host" lines. */
export const NO_SYSTEMD_REASON = `PID 1 is ${pid1() || "unknown"}, not systemd: the systemd group runs in the systemd VM (bash test/v2vm/systemd-tests.sh)`;

/** `bin/tsrun features` says linux.cgroup.systemd: the driver is there, so tsrun joins the group. */
export function tsrunHasSystemd(): boolean {
  const r = spawnSync(TSRUN, ["features"], { encoding: "utf8", timeout: 30_000, env: {} });
  if (r.status !== 0) return false;
  try {
    return JSON.parse(r.stdout)?.linux?.cgroup?.systemd === true;
  } catch {
    return false;
  }
}

/**
 * The runtimes a systemd test file runs against, as [name, path]: runc always (the reference), tsrun
 * as soon as its features say it has the systemd driver (or when TSRUN_SYSTEMD_TESTS=force, to run the
 * group on a driver in progress). Until then the file says tsrun was not checked.
 */
export function systemdRuntimes(file: string): [string, string][] {
  if (process.env.TSRUN_SYSTEMD_TESTS === "force" || tsrunHasSystemd()) return [["tsrun", TSRUN], ["runc", RUNC]];
  process.stdout.write(`${file}: tsrun NOT checked: \`bin/tsrun features\` does not say linux.cgroup.systemd = true; runc's behaviour only\n`);
  return [["runc", RUNC]];
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function systemctl(...args: string[]): Run {
  const r = spawnSync("systemctl", ["--no-pager", ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** `systemctl show -p A,B,... unit` as { A: value, ... } (a unit systemd does not know shows defaults). */
export function unitProps(unit: string, names: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of systemctl("show", "-p", names.join(","), unit).stdout.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/** The units systemd has loaded (in any state) whose names match the glob: `systemctl list-units --all`. */
export function unitsMatching(glob: string): string[] {
  const r = systemctl("list-units", "--all", "--plain", "--no-legend", glob);
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean);
}

/** Poll until no unit matches the glob (a scope goes a moment after its last process); returns what is left. */
export function waitNoUnits(glob: string, timeoutMs = 20_000): string[] {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = unitsMatching(glob);
    if (left.length === 0 || Date.now() > end) return left;
    spawnSync("sleep", ["0.2"]);
  }
}

/** The cgroup directories of cgroup path `path` that exist, in every hierarchy of this host. */
export function cgroupDirsOf(path: string): string[] {
  return HIERARCHIES.map((h) => join(h.mountPoint, path)).filter((d) => existsSync(d));
}

/**
 * Stop every loaded unit matching the glob and forget failed ones; return their names (leftovers of a
 * test: the caller reports them).
 */
export function stopUnits(glob: string): string[] {
  const found = unitsMatching(glob);
  if (found.length > 0) {
    systemctl("stop", ...found);
    systemctl("reset-failed", ...found);
  }
  return found;
}

/** The error lines of a runtime's stderr: without its warnings (runc: level=warning; tsrun: "tsrun: warning: ..."). */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.trim() !== "" && !/level=(warning|info|debug)|^tsrun: (warning|debug):/.test(l));
}

/** Cgroup directories (any hierarchy, down to 6 levels) whose name contains `part`: what a test's units left. */
export function cgroupDirsMatching(part: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // gone while we looked
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = join(dir, e.name);
      if (e.name.includes(part)) found.push(p);
      if (depth < 6) walk(p, depth + 1);
    }
  };
  for (const h of HIERARCHIES) walk(h.mountPoint, 1);
  return found;
}

/** Live processes whose cgroup path contains `part`, as "pid: cmdline". */
export function processesInCgroupsMatching(part: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(part)) continue;
      if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) continue;
      found.push(`${pid}: ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}
