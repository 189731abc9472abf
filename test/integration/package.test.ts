// The npm package as a user gets it: `npm pack`, then `npm install -g` of the tarball into a scratch
// prefix, offline (the package must need nothing from the registry), then the installed `tsrun
// --version`, `tsrun run` of the demo bundle, and the library. Everything lives in the scratch dir,
// removed in afterAll whatever failed.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Scratch, TOP, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

/** Packing and unpacking 100 MiB: seconds each on an idle machine, more under a loaded CI. */
const SLOW = 240_000;
const s = new Scratch();
const prefix = join(s.dir, "prefix");
const installed = join(prefix, "bin/tsrun");
/** What the package must hold, and only that (no tsrun-faults, tests, bench results, sources). */
const SHIPPED = ["README.md", "bin/tsrun", "bin/tsrun-init", "dist/index.js", "package.json"];

beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

/** npm with its cache, logs and user config in the scratch dir, not the caller's (~/.npm, ~/.npmrc). */
function npm(args: string[], cwd: string) {
  const env = { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: s.dir, npm_config_cache: join(s.dir, "npm-cache") };
  const r = spawnSync("npm", [...args, "--no-audit", "--no-fund", "--no-update-notifier"], { cwd, env, encoding: "utf8", timeout: SLOW });
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")}: status ${r.status} ${r.signal ?? ""}\n${r.stderr}`);
  return r.stdout;
}

let tarball = "";
test("npm pack: only what users need, the executables executable", () => {
  // --ignore-scripts: no prepack rebuild of bin/tsrun under tests that run it; the tests' build is
  // what gets packed (CI builds from a clean clone, so its commit line is that commit).
  const [packed] = JSON.parse(npm(["pack", "--ignore-scripts", "--json", "--pack-destination", s.dir], TOP));
  tarball = join(s.dir, packed.filename);
  expect(packed.files.map((f: { path: string }) => f.path).sort()).toEqual(SHIPPED);
  for (const f of packed.files) if (f.path.startsWith("bin/")) expect(f.mode & 0o111).toBe(0o111);
  expect(statSync(tarball).size).toBe(packed.size);
}, SLOW);

test("npm install -g of the tarball, offline: tsrun --version and the demo bundle run", () => {
  expect(tarball).not.toBe("");
  npm(["install", "--global", "--prefix", prefix, "--offline", tarball], s.dir);
  // As a manager calls it (no environment): the installed copy, reached through npm's bin symlink.
  const v = s.command(installed, ["--version"]);
  expect(v.status).toBe(0);
  expect(v.stdout).toMatch(/^tsrun version \d+\.\d+\.\d+\ncommit: ([0-9a-f]{40}(-dirty)?|unknown)\nspec: \d+\.\d+\.\d+\n$/);
  expect(v.stdout).toBe(s.tsrun(["--version"]).stdout);
  expect(TSRUN).not.toBe(installed);

  const id = s.id("demo");
  const r = s.command(installed, ["--root", s.root, "run", "--bundle", join(TOP, "bundles/busybox"), id]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
  expect(r.stdout).toContain("Hello from inside a container started by an OCI runtime.");
  expect(r.stdout).toContain("hostname: tsrun-demo");
  expect(s.command(installed, ["--root", s.root, "list", "-q"]).stdout).toBe("");
}, SLOW);

test("the installed library (dist/index.js) finds the package's tsrun-init and runs a container", () => {
  const lib = join(prefix, "lib/node_modules/tsrun/dist/index.js");
  const id = s.id("lib");
  const bundle = s.bundle((c) => (c.process.args = ["/bin/sh", "-c", "exit 7"]));
  const script = `const t = await import(${JSON.stringify(lib)});
    process.exitCode = await t.runContainer(t.makeContext(${JSON.stringify(s.root)}), { id: ${JSON.stringify(id)}, bundle: ${JSON.stringify(bundle)} });`;
  const r = s.command(process.execPath, ["--input-type=module", "-e", script]);
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 7, stderr: "" });
});
