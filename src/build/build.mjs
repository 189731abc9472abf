#!/usr/bin/env node
// The build: schema validator (ajv standalone), tsrun-init (static C), the CLI (one Bun executable)
// and the library bundle for Node. Each step is skipped when its output is newer than its inputs.
// `--pack` (npm's prepack): only what the package ships, and bin/tsrun rebuilt when the commit baked
// into it is not the tree's own (a development build keeps the commit it was built at until its
// sources change: rebuilding 100 MiB after every commit would cost more than the line is worth).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const top = join(dirname(fileURLToPath(import.meta.url)), "../..");
process.chdir(top);
const bun = join(top, "node_modules/@oven/bun-linux-x64/bin/bun");
const force = process.argv.includes("--force");
const pack = process.argv.includes("--pack");

function newest(dir, re) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== "generated") t = Math.max(t, newest(p, re)); }
    else if (re.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}
function stale(out, inputs) {
  if (force || !existsSync(out)) return true;
  return Math.max(...inputs) > statSync(out).mtimeMs;
}
function step(name, fn) {
  const t0 = Date.now();
  fn();
  console.log(`build: ${name} (${Date.now() - t0} ms)`);
}
const run = (cmd, args) => execFileSync(cmd, args, { stdio: "inherit" });

// The commit `tsrun --version` prints, as runc's Makefile makes it: the full sha of HEAD, "-dirty" when
// tracked files differ from it; $TSRUN_COMMIT when set (a build from a source archive, a distro's
// package); "unknown" outside a git checkout of this tree (not an enclosing repository's HEAD).
function sourceCommit() {
  if (process.env.TSRUN_COMMIT) return process.env.TSRUN_COMMIT;
  const git = (...args) => execFileSync("git", ["-C", top, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    if (realpathSync(git("rev-parse", "--show-toplevel")) !== realpathSync(top)) return "unknown";
    const sha = git("rev-parse", "--verify", "HEAD");
    return git("status", "--porcelain", "--untracked-files=no") === "" ? sha : `${sha}-dirty`;
  } catch {
    return "unknown"; // no git, or not a checkout
  }
}
const commit = sourceCommit();
/** The commit line of a built CLI, or undefined when it does not run. */
function bakedCommit(exe) {
  try {
    return /^commit: (.*)$/m.exec(execFileSync(exe, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))?.[1];
  } catch {
    return undefined;
  }
}

// The flags of the CLI's executable (reasons below, at the bin/tsrun step).
const cliFlags = [
  "build", "--compile", "--splitting", "--format=esm", "--minify", "--bytecode", "--target=bun-linux-x64",
  "--compile-jit-policy=10", "--compile-exec-argv=--no-deprecation",
  "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig",
];

// `build.mjs --floor OUT`: only an empty program (console.log("")) compiled by the same Bun with the
// same flags as bin/tsrun: the floor bench/bench.sh measures every verb against (issue 20).
const floorAt = process.argv.indexOf("--floor");
if (floorAt >= 0) {
  const out = process.argv[floorAt + 1];
  if (!out) throw new Error("build.mjs --floor OUT");
  const src = join(dirname(out), "floor-entry.ts");
  writeFileSync(src, 'console.log("");\n');
  run(bun, [...cliFlags, src, "--outfile", out]);
  process.exit(0);
}

mkdirSync("bin", { recursive: true });
// Syscall tables for the seccomp compiler, from the kernel headers (gcc's <asm/unistd.h>).
const syscallTable = "src/security/seccomp/generated/syscalls.js";
if (stale(syscallTable, [statSync("src/build/gen-syscalls.mjs").mtimeMs])) {
  step("syscall tables", () => run(process.execPath, ["src/build/gen-syscalls.mjs"]));
}
const schemaTime = newest("schemas", /\.json$/);
if (stale("src/spec/generated/validate-config.js", [schemaTime, statSync("src/build/gen-validator.mjs").mtimeMs])) {
  step("schema validator", () => run(process.execPath, ["src/build/gen-validator.mjs"]));
}
// The C side of the launch contract (op codes, record shapes, sync words), generated from its one
// definition in src/launch/; then tsrun-init (src/init/ and its subdirectories: main.c says which
// files are the executor core), then the check that it decodes a record of every op as encoded.
const contractHeader = "src/init/generated/contract.h";
if (stale(contractHeader, [newest("src/launch", /\.ts$/), statSync("src/build/gen-init-contract.ts").mtimeMs])) {
  step("launch contract header", () => run(bun, ["src/build/gen-init-contract.ts"]));
}
const initInputs = [newest("src/init", /\.[ch]$/), statSync(contractHeader).mtimeMs, statSync("src/build/check-init-contract.ts").mtimeMs];
if (stale("bin/tsrun-init", initInputs)) {
  const sources = readdirSync("src/init", { recursive: true }).filter((f) => f.endsWith(".c")).map((f) => `src/init/${f}`);
  step("tsrun-init", () => run("gcc", ["-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", "bin/tsrun-init.new", ...sources]));
  step("launch contract check", () => run(bun, ["src/build/check-init-contract.ts", "bin/tsrun-init.new"]));
  renameSync("bin/tsrun-init.new", "bin/tsrun-init");
}
const tsTime = Math.max(newest("src", /\.(ts|js)$/), schemaTime, statSync(syscallTable).mtimeMs, statSync("src/build/build.mjs").mtimeMs);
// bin/tsrun ignores TSRUN_FAULT (the check is compiled out); bin/tsrun-faults, the same CLI built for
// the reliability tests, honours it (crash injection: src/lifecycle/faults.ts). Never install it.
// --no-compile-autoload-*: a compiled Bun program would otherwise read .env and bunfig.toml from the
// caller's working directory on every call (a manager's bundle dir): slower, and not ours to read.
// --splitting (ESM only): each verb's dynamic import becomes a chunk inside the executable, so a call
// maps and loads only the bytecode its verb needs (`state` 5.3 -> 4.6 ms, bench/results/breakdown.md).
// --compile-jit-policy=10: JIT tiers up 10x later. A CLI call runs each function a few times and
// exits; compiling it to faster tiers costs more than it saves (`run` 17.7 -> 15.5 ms, user CPU
// 11.8 -> 10.8 ms; 100 and 1000 measure the same as 10). tsrun has no long-running JS loop.
// --compile-exec-argv (any, here a no-op flag): a Bun 1.4 executable built without it refuses to start
// from a deleted working directory ("The current working directory was deleted"); with it, it starts. The runc
// v2 shim of a Kubernetes pod runs every `kill`/`delete` of the pod's containers from the sandbox's bundle
// dir, which is gone once the sandbox died and was cleaned up: without this the pod could not be stopped.

// The build id: a hash of every source file. It keys the seccomp filter cache in the state root
// (src/security/seccomp/cache.ts): a filter compiled by another build is never used.
function sourceHash(dir, h = createHash("sha256")) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sourceHash(p, h);
    else if (/\.(ts|js|json)$/.test(e.name)) h.update(p).update("\0").update(readFileSync(p)).update("\0");
  }
  return h;
}
const buildId = () => sourceHash("src").digest("hex").slice(0, 16);
const cli = (out, faults) => [
  ...cliFlags, "--define", `TSRUN_FAULT_BUILD=${faults}`, "--define", `TSRUN_BUILD_ID="${buildId()}"`,
  "--define", `TSRUN_COMMIT=${JSON.stringify(commit)}`, "src/cli/tsrun.ts", "--outfile", out,
];
// Built aside and renamed over: a test or container manager running bin/tsrun meanwhile sees the old
// file or the new one, never half of one.
if (stale("bin/tsrun", [tsTime]) || (pack && bakedCommit("bin/tsrun") !== commit)) {
  step(`bin/tsrun (commit ${commit})`, () => run(bun, cli("bin/tsrun.new", false)));
  renameSync("bin/tsrun.new", "bin/tsrun");
}
if (pack) {
  if (commit === "unknown" || commit.endsWith("-dirty")) console.log(`build: warning: packing a build of commit ${commit}`);
} else if (stale("bin/tsrun-faults", [tsTime])) {
  step("bin/tsrun-faults (test build)", () => run(bun, cli("bin/tsrun-faults", true)));
}
if (stale("dist/index.js", [tsTime])) {
  step("dist/index.js", () => run(bun, ["build", "--target=node", "--format=esm", "--outdir", "dist", "src/index.ts"]));
}
