// Soak: bench/soak.sh runs TSRUN_SOAK_CYCLES (default 100 here; the script alone defaults to 2,000)
// full lifecycles of containers with overlay layers, a memory limit and a veth (inside a network
// namespace the script makes), and prints the counts of mounts, cgroups, links, address leases,
// state-root files, container processes and the fds of long-lived processes before and after.
// They must be back where they started.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { TOP } from "../helpers/tsrun.js";
import { ensureRelBuilt } from "../helpers/reliability.js";

const CYCLES = Number(process.env.TSRUN_SOAK_CYCLES ?? 100);

beforeAll(() => ensureRelBuilt());

test(`${CYCLES} full lifecycles leave the counts where they started`, () => {
  const r = spawnSync("bash", [join(TOP, "bench/soak.sh"), "--cycles", String(CYCLES)], {
    encoding: "utf8",
    timeout: (120 + CYCLES) * 1000,
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  console.log(r.stdout + r.stderr);
  const line = (k: string) => new RegExp(`^${k}:\\s+(.*)$`, "m").exec(r.stdout)?.[1];
  const before = line("before");
  expect(before).toMatch(/^mounts=\d+ cgroups=[1-9]\d* links=3 leases=1 files=\d+ procs=1 fds_self=\d+ fds_reaper=\d+ fds_sentinel=\d+$/);
  expect(line("after")).toBe(before);
  expect(r.stdout).toContain(`soak: ${CYCLES} lifecycles in`);
  expect(r.stdout).toMatch(/, 0 failed\n/);
  expect(r.status).toBe(0);
}, (180 + CYCLES) * 1000);
