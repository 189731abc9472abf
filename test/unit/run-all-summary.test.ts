// The closing line of test/run-all.sh (`--summarize`): the host's jest results plus the two VM runs'
// (cgroup v2, systemd), where a VM that wrote no results or failed without a failing test is a failure.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const RUN_ALL = resolve(new URL(".", import.meta.url).pathname, "../run-all.sh");
const dir = mkdtempSync(join(tmpdir(), "tsrun-summary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A jest --json result file with these counts. */
function results(total: number, failed: number, pending = 0): string {
  const f = join(dir, `r${n++}.json`);
  writeFileSync(f, JSON.stringify({ numTotalTests: total, numFailedTests: failed, numPendingTests: pending, numTodoTests: 0, numRuntimeErrorTestSuites: 0 }));
  return f;
}
const missing = () => join(dir, `missing${n++}.json`);

function summarize(...args: string[]) {
  const r = spawnSync("bash", [RUN_ALL, "--summarize", ...args], { encoding: "utf8" });
  return { status: r.status, line: r.stdout.trim(), stderr: r.stderr };
}

test("the host alone", () => {
  expect(summarize(results(10, 0))).toMatchObject({ status: 0, line: "10 passed, 0 failed" });
  expect(summarize(results(10, 2, 1), "1")).toMatchObject({ status: 1, line: "7 passed, 2 failed, 1 skipped" });
});

test("the cgroup-v2 VM's and the systemd VM's counts are added, each named on stderr", () => {
  const r = summarize(results(10, 0), "0", "0", results(5, 0), "0", results(3, 0), "0");
  expect(r).toMatchObject({ status: 0, line: "18 passed, 0 failed" });
  expect(r.stderr).toContain("run-all: cgroup-v2 VM: 5 passed, 0 failed");
  expect(r.stderr).toContain("run-all: systemd VM: 3 passed, 0 failed");
  const f = summarize(results(10, 0), "0", "0", results(5, 0), "0", results(3, 1), "1");
  expect(f).toMatchObject({ status: 1, line: "17 passed, 1 failed" });
});

test("a systemd VM that timed out or wrote no results is a failure", () => {
  const r = summarize(results(10, 0), "0", "0", results(5, 0), "0", missing(), "124");
  expect(r).toMatchObject({ status: 1, line: "15 passed, 1 failed" });
  expect(r.stderr).toContain("the systemd VM run wrote no results (exit status 124");
});

test("a VM that failed although no test failed is a failure; so is the cgroup-v2 VM without results", () => {
  const r = summarize(results(10, 0), "0", "0", results(5, 0), "0", results(3, 0), "125");
  expect(r).toMatchObject({ status: 1, line: "18 passed, 1 failed" });
  expect(r.stderr).toContain("the systemd VM run exited with status 125 although no test failed");
  const v = summarize(results(10, 0), "0", "0", missing(), "124", results(3, 0), "0");
  expect(v).toMatchObject({ status: 1, line: "13 passed, 1 failed" });
  expect(v.stderr).toContain("the cgroup-v2 VM run wrote no results (exit status 124");
});

test("leftovers count as a failure", () => {
  expect(summarize(results(10, 0), "0", "2")).toMatchObject({ status: 1, line: "10 passed, 1 failed" });
});
