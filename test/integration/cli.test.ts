// The CLI's own verbs and flags: help, version, spec, features, and that it starts with an empty
// environment (podman's cleanup calls it with no PATH and no HOME).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validateSpec } from "../../src/spec/validate.js";
import { Scratch, TOP, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

test("--help lists the verbs and the global flags; VERB --help describes the verb", () => {
  const h = s.tsrun(["--help"]);
  expect(h.status).toBe(0);
  for (const v of ["create", "start", "state", "kill", "delete", "run", "list", "spec", "features"]) expect(h.stdout).toMatch(new RegExp(`^  ${v}\\s`, "m"));
  for (const f of ["--root", "--log", "--log-format", "--debug", "--systemd-cgroup"]) expect(h.stdout).toContain(f);
  const c = s.tsrun(["create", "--help"]);
  expect(c.status).toBe(0);
  expect(c.stdout).toContain("Usage: tsrun create [flags] <container-id>");
  expect(c.stdout).toContain("--pid-file");
  expect(s.tsrun(["help", "kill"]).stdout).toContain("--all");
});

test("--version is runc's three lines: version, the commit built from, the spec; features says the same", () => {
  const v = s.tsrun(["--version"]);
  expect(v.status).toBe(0);
  const m = /^tsrun version (\d+\.\d+\.\d+)\ncommit: ([0-9a-f]{40}(?:-dirty)?|unknown)\nspec: (\d+\.\d+\.\d+)\n$/.exec(v.stdout);
  expect(m).not.toBeNull();
  const [, version, commit, spec] = m!;
  const pkg = JSON.parse(readFileSync(join(TOP, "package.json"), "utf8"));
  expect(version).toBe(pkg.version);
  // A build is from some commit of this repository (bin/tsrun keeps the one it was built at until its
  // sources change), unless made outside git.
  if (commit !== "unknown") expect(spawnSync("git", ["-C", TOP, "cat-file", "-e", `${commit.replace(/-dirty$/, "")}^{commit}`]).status).toBe(0);
  for (const alias of [["version"], ["-v"]]) expect(s.tsrun(alias).stdout).toBe(v.stdout);
  const f = JSON.parse(s.tsrun(["features"]).stdout);
  expect(f.ociVersionMax).toBe(spec);
  expect(f.annotations).toMatchObject({ "io.github.tsrun.version": version, "io.github.tsrun.commit": commit });
});

test("an unknown verb or global flag is one clear error", () => {
  const r = s.tsrun(["frobnicate"]);
  expect(r.status).toBe(1);
  expect(r.stderr).toBe('tsrun: unknown verb "frobnicate" (see tsrun --help)\n');
  expect(s.tsrun(["--nope", "list"]).stderr).toMatch(/unknown global flag --nope/);
});

test("spec writes a valid config.json, and never over an existing one", () => {
  const dir = join(s.dir, "specdir");
  mkdirSync(dir);
  const r = s.tsrun(["spec", "--bundle", dir]);
  expect(r.status).toBe(0);
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  expect(() => validateSpec(cfg)).not.toThrow();
  expect(cfg.process.args).toEqual(["sh"]);
  const again = s.tsrun(["spec", "--bundle", dir]);
  expect(again.status).toBe(1);
  expect(again.stderr).toMatch(/config\.json: already exists/);
  const rootless = join(s.dir, "rootless");
  mkdirSync(rootless);
  expect(s.tsrun(["spec", "--rootless", "--bundle", rootless]).status).toBe(0);
  expect(JSON.parse(readFileSync(join(rootless, "config.json"), "utf8")).linux.uidMappings).toHaveLength(1);
});

test("a config written by spec runs once its terminal is turned off", () => {
  const dir = join(s.dir, "specrun");
  mkdirSync(dir);
  expect(s.tsrun(["spec", "--bundle", dir]).status).toBe(0);
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  cfg.root.path = join(new URL(".", import.meta.url).pathname, "../../bundles/busybox/rootfs");
  cfg.process.terminal = false;
  cfg.process.args = ["sh", "-c", "hostname"];
  writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
  const r = s.tsrun(["run", "--bundle", dir, s.id("specrun")]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("tsrun\n");
});

test("features reports JSON with what is implemented", () => {
  const r = s.tsrun(["features"]);
  expect(r.status).toBe(0);
  const f = JSON.parse(r.stdout);
  expect(f.ociVersionMax).toBe("1.3.0");
  expect(f.potentiallyUnsafeConfigAnnotations).toEqual(["org.systemd.property."]);
  expect(f.linux.namespaces).toEqual(expect.arrayContaining(["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]));
  expect(f.linux.capabilities).toContain("CAP_SYS_ADMIN");
  expect(f.mountOptions).toEqual(expect.arrayContaining(["ro", "nosuid", "rbind", "rprivate"]));
  expect(f.hooks).toEqual(["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
  expect(f.linux.seccomp).toEqual({
    enabled: true,
    actions: expect.arrayContaining(["SCMP_ACT_ERRNO", "SCMP_ACT_NOTIFY", "SCMP_ACT_KILL_PROCESS"]),
    operators: expect.arrayContaining(["SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"]),
    archs: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    knownFlags: expect.arrayContaining(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
    supportedFlags: expect.arrayContaining(["SECCOMP_FILTER_FLAG_LOG"]),
  });
});

test("state on a fresh root lists nothing and list works without the root existing", () => {
  const r = s.tsrun(["list"], { global: ["--root", join(s.dir, "never-made")] });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^ID\s+PID\s+STATUS/);
  expect(existsSync(join(s.dir, "never-made"))).toBe(false);
});

test("a relative --root is taken from the caller's directory (as runc): create, state and delete work", () => {
  const b = s.bundle((c) => (c.process.args = ["true"]));
  const id = s.id("relroot");
  // Scratch runs commands in s.dir, so "state" is s.root.
  const rel = (args: string[]) => s.command(TSRUN, ["--root", "state", ...args]);
  const c = rel(["create", "--bundle", b, id]);
  expect(c.stderr).toBe("");
  expect(c.status).toBe(0);
  expect(JSON.parse(s.tsrun(["state", id]).stdout)).toMatchObject({ id, status: "created" });
  expect(existsSync(join(s.root, id, "exec.fifo"))).toBe(true);
  expect(rel(["delete", "--force", id]).status).toBe(0);
  expect(existsSync(join(s.root, id))).toBe(false);
});

test("a .env or bunfig.toml in the caller's working directory is not read (LISTEN_FDS there would pass fds in)", () => {
  const dir = join(s.dir, "cwd-with-env");
  mkdirSync(dir);
  writeFileSync(join(dir, ".env"), "LISTEN_FDS=2\n");
  writeFileSync(join(dir, "bunfig.toml"), "this is not toml [\n");
  const b = s.bundle((c) => (c.process.args = ["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"]));
  const r = s.tsrun(["run", "--bundle", b, s.id("dotenv")], { cwd: dir });
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("0 1 2 3 "); // 3: ls's own directory fd
});
