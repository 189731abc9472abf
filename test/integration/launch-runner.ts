/**
 * Test helper, run as its own process (transpiled for `node`, or directly by `bun`) so that the
 * container's stdout/stderr are this process's fds 1 and 2, which the test captures.
 *
 *   launch-runner <job.json> <result.json>
 *
 * job: { initPath, plan: PlanRecord[] (ints as numbers or decimal strings), foreground?, preserveFds?,
 *        onSync?: { [tag]: [path, content][] } ("{pid}" in a path is replaced by the child's pid) }
 * result: { ok: true, pid, status } | { ok: false, name, message }
 */
import { readFileSync, writeFileSync } from "node:fs";

import { launchInit } from "../../src/init/launch.js";
import { encodePlan } from "../../src/launch/encode.js";
import type { Op, PlanRecord } from "../../src/launch/ops.js";

interface Job {
  initPath: string;
  plan: { op: number; ints?: (number | string)[]; strs?: string[] }[];
  foreground?: boolean;
  preserveFds?: number;
  onSync?: Record<string, [string, string][]>;
}

const [jobPath, resultPath] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobPath, "utf8")) as Job;
const plan: PlanRecord[] = job.plan.map((r) => ({
  op: r.op as Op,
  ints: (r.ints ?? []).map((v) => (typeof v === "string" ? BigInt(v) : v)),
  strs: r.strs ?? [],
}));

let result: unknown;
try {
  const launched = await launchInit({
    initPath: job.initPath,
    plan: encodePlan(plan),
    foreground: job.foreground,
    preserveFds: job.preserveFds,
    onSync: (tag, pid) => {
      const writes = job.onSync?.[tag];
      if (!writes) throw new Error(`unexpected sync ${tag}`);
      for (const [path, content] of writes) writeFileSync(path.replace("{pid}", String(pid)), content);
    },
  });
  const status = await launched.exited;
  result = { ok: true, pid: launched.pid, status };
} catch (e) {
  const err = e as Error;
  result = { ok: false, name: err.name, message: err.message };
}
writeFileSync(resultPath, JSON.stringify(result));
