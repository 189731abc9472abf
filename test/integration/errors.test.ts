// runtime.md's errors, as a user and a manager see them: a non-zero exit, one clear line on stderr
// that names the field or path, and with --log-format json one JSON error line appended to the log.
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Runc } from "../helpers/runc.js";
import { Scratch, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

const loop = (c: any) => (c.process.args = ["sh", "-c", "while true; do sleep 0.05; done"]);

/** Run a call expected to fail; check the one-line message and the JSON log line; return the message. */
function fails(args: string[], pattern: RegExp): string {
  const log = join(s.dir, `log-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(log, '{"level":"info","msg":"earlier line","time":"x"}\n');
  const r = s.tsrun(args, { global: ["--log", log, "--log-format", "json"] });
  expect(r.status).not.toBe(0);
  const lines = r.stderr.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  const logLines = readFileSync(log, "utf8").split("\n").filter(Boolean);
  expect(logLines).toHaveLength(2); // appended, never truncated
  const entry = JSON.parse(logLines[1]);
  expect(Object.keys(entry).sort()).toEqual(["level", "msg", "time"]);
  expect(entry.level).toBe("error");
  expect(entry.msg).toMatch(pattern);
  expect(Number.isNaN(Date.parse(entry.time))).toBe(false);
  return lines[0];
}

test("a duplicate id is refused and the first container is untouched", () => {
  const id = s.id("dup");
  expect(s.tsrun(["create", "--bundle", s.bundle(loop), id]).status).toBe(0);
  const pid = s.state(id).pid;
  fails(["create", "--bundle", s.bundle(loop), id], /already exists/);
  expect(s.state(id)).toMatchObject({ status: "created", pid });
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test("an unknown container: state, start, kill, delete say it does not exist", () => {
  for (const verb of [["state"], ["start"], ["kill"], ["delete"]]) fails([...verb, "nosuch"], /container nosuch does not exist/);
  // delete --force of an unknown id succeeds, as managers expect after a failed create.
  expect(s.tsrun(["delete", "--force", "nosuch"]).status).toBe(0);
});

test("a missing or malformed id is a usage error", () => {
  expect(s.tsrun(["state"]).status).not.toBe(0);
  fails(["create", "--bundle", s.bundle(), "../x"], /invalid container id/);
});

test("start is refused unless the container is created; kill and delete follow the state", () => {
  const id = s.id("states");
  expect(s.tsrun(["create", "--bundle", s.bundle(loop), id]).status).toBe(0);
  fails(["delete", id], /not stopped: it is created/);
  expect(s.tsrun(["start", id]).status).toBe(0);
  fails(["start", id], /cannot start container .*: it is already running/);
  fails(["delete", id], /not stopped: it is running/);
  expect(s.tsrun(["kill", id, "KILL"]).status).toBe(0);
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  fails(["kill", id, "TERM"], /container not running/);
  fails(["start", id], /it has stopped/);
  expect(s.tsrun(["delete", id]).status).toBe(0);
});

test("delete --force kills a created or running container and removes everything", () => {
  for (const startIt of [false, true]) {
    const id = s.id("force");
    expect(s.tsrun(["create", "--bundle", s.bundle(loop), id]).status).toBe(0);
    const pid = s.state(id).pid;
    if (startIt) expect(s.tsrun(["start", id]).status).toBe(0);
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
    const st = (() => {
      try {
        return readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        return "";
      }
    })();
    expect(st === "" || / Z /.test(st)).toBe(true);
    expect(s.tsrun(["state", id]).status).not.toBe(0);
  }
});

test("start of a config with no process is refused", () => {
  const id = s.id("noproc");
  expect(s.tsrun(["create", "--bundle", s.bundle((c) => delete c.process), id]).status).toBe(0);
  fails(["start", id], /no process to run/);
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test("a bad signal is refused", () => {
  const id = s.id("badsig");
  expect(s.tsrun(["create", "--bundle", s.bundle(loop), id]).status).toBe(0);
  fails(["kill", id, "SIGFOO"], /invalid signal "SIGFOO"/);
  fails(["kill", id, "99"], /invalid signal "99"/);
  expect(s.state(id).status).toBe("created");
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test("a missing bundle, missing config.json or invalid config names the path or field, and leaves nothing", () => {
  fails(["create", "--bundle", join(s.dir, "nowhere"), s.id("nob")], /nowhere/);
  const empty = s.bundle();
  rmSync(join(empty, "config.json"));
  fails(["create", "--bundle", empty, s.id("nocfg")], /config\.json/);
  fails(["create", "--bundle", s.bundle((c) => (c.process.user.uid = -1)), s.id("baduid")], /\/process\/user\/uid/);
  fails(["create", "--bundle", s.bundle((c) => (c.linux.namespaces = [{ type: "pidd" }])), s.id("badns")], /\/linux\/namespaces\/0\/type/);
  const badJson = s.bundle();
  writeFileSync(join(badJson, "config.json"), '{"ociVersion": "1.2.0",\n  "root": }');
  fails(["create", "--bundle", badJson, s.id("badjson")], /line 2/);
  expect(s.tsrun(["list", "-q"]).stdout).toBe("");
});

test("a missing executable fails create with runc's wording, and nothing is left", () => {
  fails(["create", "--bundle", s.bundle((c) => (c.process.args = ["nosuchcmd"])), s.id("noexe")], /exec: "nosuchcmd": executable file not found in \$PATH/);
  fails(["create", "--bundle", s.bundle((c) => (c.process.args = ["/no/such/file"])), s.id("noexe2")], /no such file or directory/);
  expect(s.tsrun(["list", "-q"]).stdout).toBe("");
});

test("a mount that cannot be made fails create naming the mount, and nothing is left", () => {
  const b = s.bundle((c) => c.mounts.push({ destination: "/mnt", type: "nosuchfs", source: "x", options: [] }));
  fails(["create", "--bundle", b, s.id("badmount")], /mount .*\/mnt/);
  expect(s.tsrun(["list", "-q"]).stdout).toBe("");
});

test("--systemd-cgroup fails clearly where systemd does not run", () => {
  const r = s.tsrun(["create", "--bundle", s.bundle(), s.id("sd")], { global: ["--systemd-cgroup"] });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/systemd is not running/);
  expect(s.tsrun(["list", "-q"]).stdout).toBe("");
});

// containerd's shim runs the runtime with fd 2 a read-only /dev/null: a failure tsrun cannot print must
// still be a failure (it exited 0 there, and the shim then looked for a pid file), and be in --log.
test("a failing call with an unwritable stderr still exits non-zero and logs its reason", () => {
  const log = join(s.dir, "ro-stderr.log");
  const ro = openSync("/dev/null", "r");
  try {
    for (const args of [["state", "nosuch-ro"], ["create", "--bundle", join(s.dir, "no-bundle-here"), s.id("ro")]]) {
      const r = spawnSync(TSRUN, ["--log", log, "--log-format", "json", "--root", s.root, ...args], { stdio: ["ignore", "ignore", ro], timeout: 30_000 });
      expect(r.status).toBe(1);
    }
  } finally {
    closeSync(ro);
  }
  const lines = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((l) => l.level)).toEqual(["error", "error"]);
  expect(lines[0].msg).toMatch(/nosuch-ro/);
  expect(lines[1].msg).toMatch(/no-bundle-here/);
});

test("text logs use runc's logfmt shape", () => {
  const log = join(s.dir, "text.log");
  expect(s.tsrun(["state", "nosuch"], { global: ["--log", log] }).status).not.toBe(0);
  expect(readFileSync(log, "utf8")).toMatch(/^time="[^"]+" level=error msg="container nosuch does not exist"\n$/);
});

describe.each(["json", "text"] as const)("--log-format %s: every failure of create and run is in the --log file", (format) => {
  /** The one line a failed call left in a fresh --log file, as a manager parses it: [level, msg]. */
  function logged(file: string): [string, string] {
    const lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    if (format === "json") {
      const e = JSON.parse(lines[0]);
      expect(Object.keys(e).sort()).toEqual(["level", "msg", "time"]);
      return [e.level, e.msg];
    }
    const m = /^time="[^"]+" level=(\w+) msg=("(?:[^"\\]|\\.)*")$/.exec(lines[0]);
    expect(m).not.toBeNull();
    return [m![1], JSON.parse(m![2])];
  }

  /** A call with its log file not there yet: it must fail, and the file must then exist and hold its error. */
  function failsLogged(globals: string[], args: string[], pattern: RegExp, log = join(s.dir, `early-${format}-${Math.random().toString(36).slice(2)}.log`)): void {
    const r = s.tsrun(args, { global: globals.map((g) => (g === "LOG" ? log : g === "FORMAT" ? format : g)) });
    expect([args, r.status]).toEqual([args, 1]);
    const msg = r.stderr.replace(/^tsrun: /, "").trimEnd();
    expect(msg).toMatch(pattern);
    expect(logged(log)).toEqual(["error", msg]);
  }

  const LOG = ["--log", "LOG", "--log-format", "FORMAT"];

  test.each(["create", "run"])("%s: a bad flag, a missing id, bundle or config, an unreadable or invalid config, a duplicate id", (verb) => {
    const b = s.bundle(loop);
    failsLogged(LOG, [verb, "--bogus", "--bundle", b, s.id("bad-flag")], /unknown flag --bogus/);
    failsLogged(LOG, [verb, "--bundle", b], /missing container-id/);
    failsLogged(LOG, [verb, "--preserve-fds", "x", "--bundle", b, s.id("bad-fds")], /--preserve-fds must be a non-negative integer/);
    failsLogged(LOG, [verb, "--bundle", join(s.dir, "nowhere"), s.id("no-bundle")], /nowhere/);
    const noConfig = s.bundle();
    rmSync(join(noConfig, "config.json"));
    failsLogged(LOG, [verb, "--bundle", noConfig, s.id("no-config")], /config\.json/);
    const dirConfig = s.bundle();
    rmSync(join(dirConfig, "config.json"));
    mkdirSync(join(dirConfig, "config.json"));
    failsLogged(LOG, [verb, "--bundle", dirConfig, s.id("dir-config")], /config\.json is a directory/);
    const badJson = s.bundle();
    writeFileSync(join(badJson, "config.json"), '{"ociVersion": "1.2.0",\n  "root": }');
    failsLogged(LOG, [verb, "--bundle", badJson, s.id("bad-json")], /line 2/);
    failsLogged(LOG, [verb, "--bundle", s.bundle((c) => (c.process.user.uid = -1)), s.id("bad-uid")], /\/process\/user\/uid/);
    const dup = s.id("dup-log");
    expect(s.tsrun(["create", "--bundle", b, dup]).status).toBe(0);
    failsLogged(LOG, [verb, "--bundle", b, dup], /container with id .* already exists/);
    expect(s.tsrun(["delete", "--force", dup]).status).toBe(0);
    expect(s.tsrun(["list", "-q"]).stdout).toBe("");
  });

  test("a mistake in the global flags, before or after --log, is logged too (a bad --log-format value in text)", () => {
    const args = ["create", "--bundle", s.bundle(loop), s.id("bad-global")];
    failsLogged([...LOG, "--bogus"], args, /unknown global flag --bogus/);
    failsLogged(["--bogus", ...LOG], args, /unknown global flag --bogus/);
    if (format === "text") failsLogged(["--log", "LOG", "--log-format", "xml"], args, /--log-format must be text or json, not "xml"/);
    expect(s.tsrun(["list", "-q"]).stdout).toBe("");
  });
});

test("the --log file is created by every call that names it, as runc's is; one that cannot be opened fails the call", () => {
  const rc = new Runc(s.dir);
  rc.require();
  try {
    const ours = join(s.dir, "made-ours.log");
    const theirs = join(s.dir, "made-theirs.log");
    expect(s.tsrun(["list"], { global: ["--log", ours, "--log-format", "json"] }).status).toBe(0);
    expect(rc.run(["--log", theirs, "--log-format", "json", "list"]).status).toBe(0);
    expect([readFileSync(ours, "utf8"), readFileSync(theirs, "utf8")]).toEqual(["", ""]);
    const bad = join(s.dir, "no-such-dir", "x.log");
    const r = s.tsrun(["list"], { global: ["--log", bad] });
    expect(r).toMatchObject({ status: 1, stderr: `tsrun: ${bad}: cannot open the log file: no such file or directory\n` });
    expect(rc.run(["--log", bad, "list"]).status).toBe(1);
  } finally {
    rc.cleanup();
  }
});

test("a recorded pid now used by another process is not the container (start time differs)", () => {
  const id = s.id("reused");
  expect(s.tsrun(["create", "--bundle", s.bundle(loop), id]).status).toBe(0);
  const file = join(s.root, id, "state.json");
  const rec = JSON.parse(readFileSync(file, "utf8"));
  const realPid = rec.pid;
  // Pretend the init died and its pid went to this jest worker: same pid number, other start time.
  writeFileSync(file, JSON.stringify({ ...rec, pid: process.pid, pidStartTime: rec.pidStartTime + 12345 }));
  expect(s.state(id).status).toBe("stopped");
  fails(["kill", id, "KILL"], /container not running/);
  // delete cleans the container's cgroup (the real init is still in it) and never touches the pid
  // recorded: this jest worker is alive to see the end of the test.
  expect(s.tsrun(["delete", id]).status).toBe(0);
  const realStat = (() => {
    try {
      return readFileSync(`/proc/${realPid}/stat`, "utf8");
    } catch {
      return "";
    }
  })();
  expect(realStat === "" || / Z /.test(realStat)).toBe(true);
});

test("parallel creates of one id: exactly one wins, the others say it already exists", async () => {
  const { spawn } = await import("node:child_process");
  const { TSRUN } = await import("../helpers/tsrun.js");
  const id = s.id("race");
  const bundle = s.bundle(loop);
  // stderr goes to files: the winner's container keeps its create's stdio open.
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      new Promise<{ code: number | null; err: string }>((res) => {
        const errFile = join(s.dir, `race-${i}.err`);
        const fd = openSync(errFile, "w");
        const c = spawn(TSRUN, ["--root", s.root, "create", "--bundle", bundle, id], { env: {}, stdio: ["ignore", "ignore", fd] });
        closeSync(fd);
        c.on("exit", (code) => res({ code, err: readFileSync(errFile, "utf8") }));
      }),
    ),
  );
  expect(results.filter((r) => r.code === 0)).toHaveLength(1);
  for (const r of results.filter((r) => r.code !== 0)) expect(r.err).toMatch(/already exists/);
  expect(s.state(id).status).toBe("created");
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});
