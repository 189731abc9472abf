import { TsrunError } from "../errors.js";
import { cgroupMembers, requireOwnCgroup } from "../cgroups/members.js";
import type { RuntimeContext } from "./context.js";
import { childProcess } from "../init/spawn.js";

/** Host pids of the container's processes (what `ps --format json` prints; containerd reads it). */
export function psPids(ctx: RuntimeContext, id: string): number[] {
  const rec = ctx.store.read(id);
  // Without a cgroup of its own there is no list of the container's processes to give (an empty one
  // would say it has none).
  requireOwnCgroup(id, rec.cgroupPath, "list the processes of");
  return cgroupMembers(rec.cgroupPath).pids();
}

/**
 * Keep the header and the lines of `ps` output whose PID column holds one of `pids`. The column is
 * found by the header's "PID" word, so any `ps` options that keep a PID column work. Pure.
 */
export function filterPsOutput(text: string, pids: readonly number[]): string {
  const lines = text.split("\n");
  const header = lines[0] ?? "";
  const col = header.trim().split(/\s+/).indexOf("PID");
  if (col < 0) throw new TsrunError(`ps: the output has no PID column (header: "${header.trim()}")`);
  const want = new Set(pids);
  const kept = lines.slice(1).filter((l) => {
    const f = l.trim().split(/\s+/);
    return f.length > col && want.has(Number(f[col]));
  });
  return [header, ...kept].join("\n") + "\n";
}

/** The host's ps, by absolute path: managers run tsrun without PATH. */
export const PS = "/bin/ps";

export function psTable(ctx: RuntimeContext, id: string, psArgs: readonly string[]): string {
  const pids = psPids(ctx, id);
  const r = childProcess().spawnSync(PS, psArgs.length ? [...psArgs] : ["-ef"], { encoding: "utf8", env: { LC_ALL: "C" }, stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) throw new TsrunError(`ps: cannot run ${PS}: ${r.error.message}`);
  if (r.status !== 0) throw new TsrunError(`ps: ${PS} ${psArgs.join(" ")} failed (status ${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return filterPsOutput(r.stdout, pids);
}
