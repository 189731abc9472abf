// The launch contract end to end without root: records of src/launch/ops.ts, encoded by TypeScript,
// decoded by `bin/tsrun-init --check-plan` against the table generated from the same file (run the
// build first), and echoed back.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { checkPlan, expectedEcho, sampleRecords } from "../../src/build/check-init-contract.js";
import { encodePlan } from "../../src/launch/encode.js";
import { Op, OPS, type PlanRecord } from "../../src/launch/ops.js";

const INIT = fileURLToPath(new URL("../../bin/tsrun-init", import.meta.url));

describe("tsrun-init --check-plan", () => {
  test("a record of every op in the table is accepted and echoed exactly as encoded", () => {
    const records = sampleRecords();
    expect(records.map((r) => r.op).sort((a, b) => a - b)).toEqual(Object.values(OPS).map((d) => d.code).sort((a, b) => a - b));
    // What the sample holds: a negative int, a 64-bit int, UTF-8 and an empty string, distinct values.
    const ints = records.flatMap((r) => r.ints ?? []).map((v) => BigInt(v));
    expect(ints.some((v) => v < 0n)).toBe(true);
    expect(ints.some((v) => v >= 1n << 63n)).toBe(true);
    const strs = records.flatMap((r) => r.strs ?? []);
    expect(strs.some((s) => /ü✓/.test(s))).toBe(true);
    expect(strs).toContain("");
    expect(new Set(strs.filter(Boolean)).size).toBe(strs.filter(Boolean).length);

    const { status, stderr, echoed } = checkPlan(INIT, records);
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(echoed).toEqual(expectedEcho(records));
  });

  test("a record with the wrong number of ints or strings is refused, naming the record and the op", () => {
    const good: PlanRecord = { op: Op.READY };
    const r = checkPlan(INIT, [good, { op: Op.CLONE, ints: [1], strs: [] }]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("tsrun-init: bad plan: record 1 (CLONE): 1 ints and 0 strings, expected 2 and 1\n");
    expect(r.echoed).toEqual([]); // nothing printed: the whole plan is checked first
  });

  test("the checks the table cannot express, and an unknown op are refused too", () => {
    const exec = checkPlan(INIT, [{ op: Op.EXEC, ints: [3], strs: ["sh", "-c"] }]);
    expect([exec.status, exec.stderr]).toEqual([1, "tsrun-init: bad plan: record 0 (EXEC): argc must be between 1 and the number of strings\n"]);
    const unknown = checkPlan(INIT, [{ op: 99 as Op }]);
    expect([unknown.status, unknown.stderr]).toEqual([1, "tsrun-init: bad plan: record 0: unknown op 99\n"]);
  });

  test("damaged plans (bytes changed, cut short) are refused with a message, never crash the decoder", () => {
    const plan = encodePlan(sampleRecords());
    let seed = 15; // a fixed xorshift sequence: the same damage every run
    const rnd = (n: number) => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) % n);
    const outcomes = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const bad = Buffer.from(plan);
      for (let k = 1 + rnd(4); k > 0; k--) bad[rnd(bad.length)] = rnd(256);
      const cut = i % 3 === 0 ? bad.subarray(0, rnd(bad.length)) : bad;
      const r = spawnSync(INIT, ["--check-plan"], { input: cut, encoding: "utf8" });
      expect(r.signal).toBeNull();
      expect([0, 1]).toContain(r.status);
      if (r.status === 1) expect(r.stderr).toMatch(/^tsrun-init: bad plan: /);
      outcomes.add(String(r.status));
    }
    expect(outcomes.has("1")).toBe(true);
  });
});
