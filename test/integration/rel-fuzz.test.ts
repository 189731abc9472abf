// Bad input: mutated config.json files (test/helpers/fuzz.ts: wrong types, huge and negative
// numbers, missing fields, unknown enums, long strings, invalid UTF-8, deep nesting, non-JSON,
// empty) and bad command lines (unknown flags, missing id, ids runc refuses, bad values). Every case
// must end with a non-zero exit, one line of error without a stack trace, nothing on stdout, and
// nothing left behind. Deterministic: TSRUN_FUZZ_SEED (default 8); TSRUN_FUZZ_CASES config cases
// (default 300) and a third as many command lines. A failure prints the seed and the case.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI_CATEGORIES, CONFIG_CATEGORIES, cliCases, configCases } from "../helpers/fuzz.js";
import { oneErrorLine } from "../helpers/reliability.js";
import { Scratch, TOP, TSRUN, ensureBuilt, leftovers } from "../helpers/tsrun.js";

const SEED = Number(process.env.TSRUN_FUZZ_SEED ?? 8);
const N = Number(process.env.TSRUN_FUZZ_CASES ?? 300);
const PARALLEL = 4;

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let seq = 0;
function tsrunAsync(args: string[]): Promise<Outcome> {
  const n = seq++;
  const out = join(s.dir, `fz-out.${n}`);
  const err = join(s.dir, `fz-err.${n}`);
  const o = openSync(out, "w");
  const e = openSync(err, "w");
  return new Promise((resolve) => {
    const child = spawn(TSRUN, ["--root", s.root, ...args], { env: {}, cwd: s.dir, stdio: ["ignore", o, e], timeout: 30_000 });
    const done = (status: number | null, signal: NodeJS.Signals | null) => {
      closeSync(o);
      closeSync(e);
      resolve({ status, signal, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") });
    };
    child.once("exit", done);
    child.once("error", () => done(null, null));
  });
}

/** Run every case (PARALLEL at a time); return a description of each that misbehaved. */
async function runAll<T>(cases: T[], run: (c: T, i: number) => Promise<Outcome>, describe: (c: T) => string): Promise<string[]> {
  const bad: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      const r = await run(cases[i], i);
      const why = r.signal ? `killed by ${r.signal}` : r.status === 0 ? "exit 0" : !oneErrorLine(r.stderr) ? `stderr ${JSON.stringify(r.stderr.slice(0, 400))}` : r.stdout !== "" ? `stdout ${JSON.stringify(r.stdout.slice(0, 200))}` : "";
      if (why) bad.push(`seed ${SEED} case ${i} (${describe(cases[i])}): ${why}`);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return bad;
}

test(`${N} mutated configs: create fails with one line and leaves nothing (seed ${SEED})`, async () => {
  const base = JSON.parse(readFileSync(join(TOP, "bundles/busybox/config.json"), "utf8"));
  base.root = { path: join(TOP, "bundles/busybox/rootfs"), readonly: true };
  base.process.args = ["/bin/true"];
  base.linux.resources = { ...base.linux.resources, memory: { limit: 64 << 20 }, pids: { limit: 64 } };
  const cases = configCases(base, N, SEED);
  const ids: string[] = [];
  const bad = await runAll(
    cases,
    (c, i) => {
      const dir = join(s.dir, `fz-bundle-${i}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "config.json"), c.bytes);
      const id = s.id(`fz${i}`);
      ids.push(id);
      return tsrunAsync(["create", "--bundle", dir, id]);
    },
    (c) => `${c.category}: ${c.what}`,
  );
  const counts = Object.fromEntries(CONFIG_CATEGORIES.map((k) => [k, cases.filter((c) => c.category === k).length]));
  console.log(`config fuzz, seed ${SEED}: ${cases.length} cases ${JSON.stringify(counts)}, ${bad.length} misbehaved`);
  expect(bad).toEqual([]);
  expect(leftovers(s.root, ids)).toEqual([]);
}, 600_000);

test(`${Math.ceil(N / 3)} bad command lines: non-zero exit, one line, nothing left (seed ${SEED})`, async () => {
  const bundle = s.bundle();
  s.ids.add("fuzz-id"); // cleaned up even if a case wrongly creates it
  const cases = cliCases(bundle, Math.ceil(N / 3), SEED);
  const bad = await runAll(cases, (c) => tsrunAsync(c.args), (c) => `${c.category}: ${JSON.stringify(c.args.map((a) => (a.length > 40 ? `${a.slice(0, 10)}...(${a.length})` : a)))}`);
  const counts = Object.fromEntries(CLI_CATEGORIES.map((k) => [k, cases.filter((c) => c.category === k).length]));
  console.log(`command-line fuzz, seed ${SEED}: ${cases.length} cases ${JSON.stringify(counts)}, ${bad.length} misbehaved`);
  expect(bad).toEqual([]);
  expect(existsSync(s.root) ? readdirSync(s.root) : []).toEqual([]);
  expect(leftovers(s.root, ["fuzz-id"])).toEqual([]);
}, 600_000);
