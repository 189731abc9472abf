// The contract check: one record of every op in src/launch/ops.ts, encoded by src/launch/encode.ts,
// decoded by `tsrun-init --check-plan` against its generated table, and echoed back; the echo must be
// what was encoded. build.mjs runs it (with Bun) right after compiling tsrun-init, so a mismatch
// fails the build, not a container; test/unit/launch-contract.test.ts runs it too.
//
//   bun src/build/check-init-contract.ts bin/tsrun-init
import { spawnSync } from "node:child_process";
import { encodePlan } from "../launch/encode.js";
import { Op, OPS, type OpName, type PlanRecord } from "../launch/ops.js";

/** Counts for the ops whose table count is variable (-1), and leading ints op_check constrains
 *  (argc, a sync slot): a record tsrun-init must accept. */
const SHAPES: Partial<Record<OpName, { ints: number; strs: number; fixed?: (number | bigint)[] }>> = {
  MOUNT: { ints: 3, strs: 5 },
  SETUSER: { ints: 5, strs: 0 },
  EXEC: { ints: 1, strs: 3, fixed: [2] },
  OVERLAY: { ints: 2, strs: 5, fixed: [1, 0] },
  SECCOMP: { ints: 4, strs: 0 },
  HOOK: { ints: 3, strs: 5, fixed: [7, 2, 1] },
  CPU_AFFINITY: { ints: 2, strs: 1 },
  MEMPOLICY: { ints: 2, strs: 1 },
  JOIN_NAMESPACES: { ints: 2, strs: 2 },
  BIND_SOURCES: { ints: 0, strs: 2 },
  IDMAP_SOURCE: { ints: 3, strs: 3 },
  DETACH_PSEUDO_FS: { ints: 0, strs: 3 },
};

/** One record of every op, with distinct values: small, negative, 64-bit ints; UTF-8, quotes,
 *  a backslash, a tab and empty strings. */
export function sampleRecords(): PlanRecord[] {
  let n = 0;
  const int = (): number | bigint => {
    n++;
    return [n, -n, (1n << 63n) + BigInt(n), 2 ** 40 + n][n % 4];
  };
  const str = (name: string): string => (++n % 7 === 0 ? "" : `${name.toLowerCase()}-${n} ü✓ "q" \\ \t`);
  return (Object.keys(OPS) as OpName[]).map((name) => {
    const d = OPS[name];
    const shape = SHAPES[name] ?? { ints: d.ints, strs: d.strs };
    if ((d.ints >= 0 && shape.ints !== d.ints) || (d.strs >= 0 && shape.strs !== d.strs) || shape.ints < 0 || shape.strs < 0) {
      throw new Error(`check-init-contract: ${name}: give its variable counts in SHAPES`);
    }
    const fixed = shape.fixed ?? [];
    const ints = [...fixed, ...Array.from({ length: shape.ints - fixed.length }, int)];
    const strs = Array.from({ length: shape.strs }, () => str(name));
    return { op: Op[name], ints, strs };
  });
}

export interface Echoed {
  name: string;
  ints: bigint[];
  strs: string[];
}

/** What `--check-plan` should print for records: each int as the u64 stored. */
export function expectedEcho(records: PlanRecord[]): Echoed[] {
  const names = new Map(Object.entries(OPS).map(([name, d]) => [d.code as number, name]));
  return records.map((r) => ({
    name: names.get(r.op) ?? `?${r.op}`,
    ints: (r.ints ?? []).map((v) => BigInt.asUintN(64, BigInt(v))),
    strs: r.strs ?? [],
  }));
}

/** Run `tsrun-init --check-plan` on records: its status, stderr and the records it echoed. */
export function checkPlan(initPath: string, records: PlanRecord[]): { status: number | null; stderr: string; echoed: Echoed[] } {
  const r = spawnSync(initPath, ["--check-plan"], { input: encodePlan(records), encoding: "utf8" });
  const echoed = (r.stdout ?? "").split("\n").filter(Boolean).map((line): Echoed => {
    const m = /^([A-Z0-9_]+) ints=\[([0-9,]*)\] strs=(\[.*\])$/.exec(line);
    if (!m) throw new Error(`check-init-contract: cannot parse ${JSON.stringify(line)}`);
    return { name: m[1], ints: m[2] ? m[2].split(",").map((v) => BigInt(v)) : [], strs: JSON.parse(m[3]) as string[] };
  });
  return { status: r.status, stderr: r.error ? r.error.message : (r.stderr ?? ""), echoed };
}

/** Throws naming the first op whose record tsrun-init refused or echoed differently. */
export function checkInitContract(initPath: string): void {
  const records = sampleRecords();
  const { status, stderr, echoed } = checkPlan(initPath, records);
  if (status !== 0) throw new Error(`${initPath} --check-plan refused the contract's records (status ${status}): ${stderr.trim()}`);
  const want = expectedEcho(records);
  want.forEach((w, i) => {
    const got = echoed[i];
    const same = got && got.name === w.name && got.ints.join() === w.ints.join() && JSON.stringify(got.strs) === JSON.stringify(w.strs);
    if (!same) throw new Error(`${initPath} --check-plan: record ${i} (${w.name}) echoed as ${got ? `${got.name} ints=[${got.ints}] strs=${JSON.stringify(got.strs)}` : "nothing"}`);
  });
  if (echoed.length !== want.length) throw new Error(`${initPath} --check-plan: ${echoed.length} records echoed, ${want.length} sent`);
}

if ((import.meta as { main?: boolean }).main) {
  const initPath = process.argv[2] ?? "bin/tsrun-init";
  try {
    checkInitContract(initPath);
  } catch (err) {
    console.error(`build: launch contract: ${(err as Error).message}`);
    process.exit(1);
  }
}
