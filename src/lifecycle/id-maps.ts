import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { HostError } from "../errors.js";
import type { IdMapPlan, IdMapWrite } from "../plan/id-maps.js";

/**
 * Write the maps of the user namespace the init `pid` waits in, as the plan says: setgroups "deny"
 * first where the plan has the gid map written by a caller without CAP_SETGID (the kernel requires it),
 * then uid_map and gid_map, directly or through newuidmap/newgidmap. An error names the file or the
 * helper and says what the kernel or the helper answered.
 */
export function writeIdMaps(pid: number, maps: IdMapPlan): void {
  writeMap(pid, "uid", maps.uid);
  if (maps.setgroupsDenied && maps.gid.via === "write") writeProcFile(pid, "setgroups", "deny");
  writeMap(pid, "gid", maps.gid);
}

function writeMap(pid: number, kind: "uid" | "gid", w: IdMapWrite): void {
  if (w.via === "write") {
    writeProcFile(pid, `${kind}_map`, w.text);
    return;
  }
  const r = spawnSync(w.helper, [String(pid), ...w.args], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) {
    const said = (r.stderr || r.error?.message || `exit status ${r.status}`).trim().split("\n").join("; ");
    throw new HostError(`${w.helper} ${pid} ${w.args.join(" ")} failed: ${said}`);
  }
}

function writeProcFile(pid: number, name: string, text: string): void {
  try {
    writeFileSync(`/proc/${pid}/${name}`, text);
  } catch (e) {
    throw new HostError(`cannot write /proc/${pid}/${name} (${text.trim().replace(/\n/g, "; ")}): ${(e as Error).message}`);
  }
}
