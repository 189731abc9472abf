// Concurrency: 50 parallel creates of one id (exactly one wins, the others "already exists"), then
// 8 workers making random create/start/kill/delete/state calls on 50 ids for TSRUN_STRESS_SECONDS
// (default 60). Every call ends with status 0 or one line naming an expected conflict, every state
// output is valid JSON with a legal status, and once everything is deleted nothing is left. The
// containers have overlay layers, a memory limit and a veth (address leases contend on one bridge).
import { LEGAL_STATUS, Rig, checkState, ensureRelBuilt, oneErrorLine, type Call } from "../helpers/reliability.js";
import { rng } from "../helpers/fuzz.js";

const SECONDS = Number(process.env.TSRUN_STRESS_SECONDS ?? 60);
const WORKERS = 8;
const IDS = 50;

let rig: Rig;
beforeAll(() => {
  ensureRelBuilt();
  rig = new Rig();
});
afterAll(() => expect(rig.finish()).toEqual([]));

test("50 parallel creates of one id: exactly one wins, the others fail with \"already exists\"", async () => {
  const id = rig.id("same");
  const bundle = rig.fullBundle("sleep 1000");
  const calls = await Promise.all(Array.from({ length: 50 }, () => rig.callAsync(["create", "--bundle", bundle, id])));
  const won = calls.filter((c) => c.status === 0);
  const lost = calls.filter((c) => c.status !== 0);
  expect(won).toHaveLength(1);
  expect(won[0].stderr).toBe("");
  expect(lost.filter((c) => !(oneErrorLine(c.stderr) && /already exists/.test(c.stderr))).map((c) => c.stderr)).toEqual([]);
  expect(checkState(rig.call(["state", id])).status).toBe("created");
  const del = rig.call(["delete", "--force", id]);
  expect(del.status).toBe(0);
  expect(rig.leaks([id])).toEqual([]);
}, 120_000);

/** Errors a racing manager may legitimately get: each names the conflict. */
const EXPECTED = [
  /already exists/,
  /does not exist/,
  /container not running/,
  /cannot start container \S+: (it has stopped|it is already running|it is already paused|it is still being created|its init process \(pid \d+\) exited before starting the process)/,
  /cannot delete container \S+ that is not stopped/,
  /cannot delete container \S+: it is being created/,
  /was deleted while it was being created/,
  /is locked by another tsrun process/,
];

test(`${WORKERS} workers x ${IDS} ids, random create/start/kill/delete/state for ${SECONDS} s: only expected errors, valid states, nothing left`, async () => {
  const ids = Array.from({ length: IDS }, (_, i) => rig.id(`w${i}`));
  const bundles = [rig.fullBundle("sleep 1000"), rig.fullBundle("sleep 0.2")];
  const counts: Record<string, number> = {};
  const unexpected: string[] = [];
  const badStates: string[] = [];
  const statuses: Record<string, number> = {};
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const deadline = Date.now() + SECONDS * 1000;
  const ops = ["create", "start", "kill", "delete", "delete-force", "state", "state"] as const;

  const worker = async (w: number) => {
    const r = rng(1000 + w);
    while (Date.now() < deadline) {
      const id = ids[Math.floor(r() * ids.length)];
      const op = ops[Math.floor(r() * ops.length)];
      const args =
        op === "create" ? ["create", "--bundle", bundles[Math.floor(r() * 2)], id]
        : op === "kill" ? ["kill", id, r() < 0.5 ? "KILL" : "TERM"]
        : op === "delete-force" ? ["delete", "--force", id]
        : [op, id];
      const c: Call = await rig.callAsync(args, { timeout: 60_000 });
      if (c.status === 0) {
        count(`${op} ok`);
        if (op === "state") {
          const st = checkState(c);
          if (!st.ok) badStates.push(`${id}: ${st.why}`);
          else statuses[st.status!] = (statuses[st.status!] ?? 0) + 1;
        }
      } else if (c.signal === null && c.status === 1 && oneErrorLine(c.stderr) && EXPECTED.some((re) => re.test(c.stderr))) {
        count(`${op} refused`);
      } else {
        count(`${op} UNEXPECTED`);
        unexpected.push(`${args.join(" ")}: status ${c.status} signal ${c.signal}: ${c.stderr.trim()}`);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`stress: ${WORKERS} workers, ${IDS} ids, ${SECONDS} s: ${total} calls ${JSON.stringify(counts)}; states seen ${JSON.stringify(statuses)}`);
  expect(unexpected).toEqual([]);
  expect(badStates).toEqual([]);
  expect(Object.keys(statuses).every((s) => LEGAL_STATUS.includes(s))).toBe(true);

  // Everything ends deleted.
  for (const id of ids) {
    const d = rig.call(["delete", "--force", id]);
    expect(d.stderr).toBe("");
    expect(d.status).toBe(0);
  }
  expect(JSON.parse(rig.call(["list", "--format", "json"]).stdout)).toEqual([]);
  expect(rig.leaks(ids)).toEqual([]);
}, (SECONDS + 300) * 1000);
