// Rootless tsrun (issue 16): every verb run by ordinary users this test makes, with bundles they own,
// state under their own $XDG_RUNTIME_DIR/tsrun, and what one user can do to another's containers (nothing).
// Also bad input as a user: each is one line, a non-zero exit, and nothing left behind.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";
import { type TestUser, makeTestUser, rootlessBundle } from "../helpers/users.js";

let alice: TestUser;
let bob: TestUser;

/** A bundle in the user's home from `tsrun spec --rootless` (as the user), with `args` and no terminal. */
const bundle = (u: TestUser, name: string, args: string[], edit: (c: any) => void = () => {}) => rootlessBundle(u, join(u.home, name), args, edit); // eslint-disable-line @typescript-eslint/no-explicit-any

const tsrun = (u: TestUser, args: string[], env?: NodeJS.ProcessEnv) => u.run(TSRUN, args, env ? { env } : {});
const stateRoot = (u: TestUser) => join(u.runtimeDir, "tsrun");

beforeAll(() => {
  ensureBuilt();
  alice = makeTestUser();
  bob = makeTestUser();
});

afterAll(() => {
  const left: string[] = [];
  for (const u of [alice, bob]) {
    if (!u) continue;
    // A container the tests left: the user's own root lists it; the user's processes are its processes.
    if (existsSync(stateRoot(u))) left.push(...readdirSync(stateRoot(u)).map((id) => `${u.name}: container ${id}`));
    left.push(...u.remove());
  }
  expect(left).toEqual([]);
}, 60_000);

describe("as an ordinary user, with no sudo and no helper of tsrun's own", () => {
  test("spec --rootless, then run: root inside is the user outside; the state root is $XDG_RUNTIME_DIR/tsrun", () => {
    const dir = bundle(alice, "b-run", ["sh", "-c", "id -u; cat /proc/self/uid_map; echo pid $$; hostname"]);
    const r = tsrun(alice, ["run", "--bundle", dir, "rl-run"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const [uid, map, pid, host] = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
    expect({ uid, map, pid, host }).toEqual({ uid: "0", map: `0 ${alice.uid} 1`, pid: "pid 1", host: "tsrun" });
    // run removes the container when it ends; the root stays, 0700 and alice's.
    expect(readdirSync(stateRoot(alice))).toEqual([]);
    const st = u32stat(stateRoot(alice));
    expect(st).toEqual({ uid: alice.uid, mode: 0o700 });
  });

  test("create, state, list (owner), exec, ps, kill, delete: every verb as the user", () => {
    const dir = bundle(alice, "b-verbs", ["sh", "-c", "echo up > /dev/shm/up; exec sleep 60"]);
    expect(tsrun(alice, ["create", "--bundle", dir, "rl-verbs"])).toMatchObject({ status: 0, stderr: "" });
    try {
    const state = JSON.parse(tsrun(alice, ["state", "rl-verbs"]).stdout);
    expect(state).toMatchObject({ id: "rl-verbs", status: "created", bundle: dir });
    expect(tsrun(alice, ["start", "rl-verbs"])).toMatchObject({ status: 0, stderr: "" });
    waitFor(() => (tsrun(alice, ["exec", "rl-verbs", "cat", "/dev/shm/up"]).stdout === "up\n" ? true : undefined), 10_000);
    const list = tsrun(alice, ["list", "--format", "json"]);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: "rl-verbs", status: "running", owner: alice.name })]);
    const ex = tsrun(alice, ["exec", "rl-verbs", "sh", "-c", "id -u; echo $$"]);
    expect(ex).toMatchObject({ status: 0, stderr: "" });
    expect(ex.stdout.split("\n")[0]).toBe("0");
    // Nothing is delegated on this host: no cgroup of its own, and the verbs that need one say so.
    for (const [verb, what] of [["ps", "list the processes of"], ["pause", "pause"]]) {
      const r = tsrun(alice, [verb, "rl-verbs"]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^tsrun: cannot ${what} container rl-verbs: it has no cgroup of its own`));
    }
    expect(tsrun(alice, ["kill", "rl-verbs", "KILL"])).toMatchObject({ status: 0, stderr: "" });
    waitFor(() => (JSON.parse(tsrun(alice, ["state", "rl-verbs"]).stdout).status === "stopped" ? true : undefined), 10_000);
    expect(tsrun(alice, ["delete", "rl-verbs"])).toMatchObject({ status: 0, stderr: "" });
    expect(existsSync(join(stateRoot(alice), "rl-verbs"))).toBe(false);
    } finally {
      tsrun(alice, ["delete", "--force", "rl-verbs"]);
    }
  });

  test("delete --force of a running container as the user", () => {
    const dir = bundle(alice, "b-force", ["sleep", "60"]);
    expect(tsrun(alice, ["run", "--detach", "--bundle", dir, "rl-force"])).toMatchObject({ status: 0, stderr: "" });
    const pid = JSON.parse(tsrun(alice, ["state", "rl-force"]).stdout).pid;
    expect(pid).toBeGreaterThan(0);
    expect(tsrun(alice, ["delete", "--force", "rl-force"])).toMatchObject({ status: 0, stderr: "" });
    expect(existsSync(`/proc/${pid}/stat`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))).toBe(false);
    expect(existsSync(join(stateRoot(alice), "rl-force"))).toBe(false);
  });

  test("an exec'd process sees no fd of the caller's and only the container's root", () => {
    const dir = bundle(alice, "b-exec", ["sleep", "60"]);
    expect(tsrun(alice, ["run", "--detach", "--bundle", dir, "rl-exec"])).toMatchObject({ status: 0, stderr: "" });
    try {
      // fds 0-2 only (the ls itself opens one for the directory it reads); the host's files, the bundle's
      // own config.json among them, are not reachable: / is the container's root.
      const r = tsrun(alice, ["exec", "rl-exec", "sh", "-c", `ls /proc/self/fd | wc -l; test -e ${dir}/config.json && echo host-visible || echo host-hidden; readlink /proc/1/exe; cat /proc/1/cmdline | tr '\\0' ' '`]);
      expect(r).toMatchObject({ status: 0, stderr: "" });
      const [nfds, ...rest] = r.stdout.trim().split("\n");
      expect(Number(nfds)).toBeLessThanOrEqual(4);
      expect(rest.slice(0, 2)).toEqual(["host-hidden", "/bin/busybox"]);
      expect(rest.at(-1)?.trim()).toBe("sleep 60");
    } finally {
      tsrun(alice, ["delete", "--force", "rl-exec"]);
    }
  });
});

describe("one user's containers are invisible and untouchable to another", () => {
  test("bob neither lists, reads, signals nor deletes alice's container, even with --root pointing at hers", () => {
    const dir = bundle(alice, "b-iso", ["sleep", "60"]);
    expect(tsrun(alice, ["run", "--detach", "--bundle", dir, "rl-iso"])).toMatchObject({ status: 0, stderr: "" });
    try {
      expect(JSON.parse(tsrun(bob, ["list", "--format", "json"]).stdout)).toEqual([]);
      expect(tsrun(bob, ["state", "rl-iso"])).toMatchObject({ status: 1, stderr: "tsrun: container rl-iso does not exist\n" });
      // alice's root is inside her 0700 runtime dir: bob cannot even see who owns it.
      const foreign = `tsrun: state root ${stateRoot(alice)} is not yours: uid ${bob.uid} may not reach it (permission denied); give --root a directory you own\n`;
      for (const verb of [["state", "rl-iso"], ["kill", "rl-iso", "KILL"], ["delete", "--force", "rl-iso"], ["list"]]) {
        expect(tsrun(bob, ["--root", stateRoot(alice), ...verb])).toMatchObject({ status: 1, stderr: foreign });
      }
      expect(JSON.parse(tsrun(alice, ["state", "rl-iso"]).stdout).status).toBe("running");
    } finally {
      tsrun(alice, ["delete", "--force", "rl-iso"]);
    }
  });
});

describe("bad input as a user: one clear line, non-zero, nothing left behind", () => {
  const nothingLeft = (u: TestUser, id: string) => expect(existsSync(join(stateRoot(u), id))).toBe(false);

  test("XDG_RUNTIME_DIR unset and no --root", () => {
    const dir = bundle(alice, "b-xdg", ["true"]);
    const env = alice.env();
    delete env.XDG_RUNTIME_DIR;
    const r = tsrun(alice, ["run", "--bundle", dir, "rl-xdg"], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `tsrun: running as uid ${alice.uid} (rootless): XDG_RUNTIME_DIR is not set, so there is no state root of your own; set XDG_RUNTIME_DIR or give --root DIR (a directory you own)\n`,
    );
    // spec needs no state root
    expect(alice.run(TSRUN, ["spec", "--rootless", "--bundle", join(alice.home, "b-xdg2")], { env: { ...env } }).stderr).toMatch(/b-xdg2/);
  });

  test("a config without a user namespace, and one with tsrun.network", () => {
    const noUser = bundle(alice, "b-nouser", ["true"], (c) => {
      c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "user"); // eslint-disable-line @typescript-eslint/no-explicit-any
      delete c.linux.uidMappings;
      delete c.linux.gidMappings;
    });
    const r = tsrun(alice, ["run", "--bundle", noUser, "rl-nouser"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsrun: config.json \/linux\/namespaces: running as uid \d+ \(rootless\) needs a new user namespace/);
    expect(r.stderr.split("\n").length).toBe(2);
    nothingLeft(alice, "rl-nouser");
    const net = bundle(alice, "b-net", ["true"], (c) => (c.tsrun = { network: { subnet: "10.77.0.0/24" } }));
    const n = tsrun(alice, ["run", "--bundle", net, "rl-net"]);
    expect(n.status).toBe(1);
    expect(n.stderr).toMatch(/^tsrun: config.json \/tsrun\/network: bridge networking needs host root/);
    nothingLeft(alice, "rl-net");
  });

  test("a map the user is not allowed (no /etc/subuid entry)", () => {
    const dir = bundle(alice, "b-map", ["true"], (c) => c.linux.uidMappings.push({ containerID: 1, hostID: 100000, size: 1000 }));
    const r = tsrun(alice, ["run", "--bundle", dir, "rl-map"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `tsrun: config.json /linux/uidMappings/1: maps host uids 100000-100999, which uid ${alice.uid} (${alice.name}) may not use: only its own uid ${alice.uid} and its ranges in /etc/subuid (none)\n`,
    );
    nothingLeft(alice, "rl-map");
  });

  test("a bundle the user cannot read, and a rootfs of another user's it cannot enter", () => {
    const theirs = bundle(bob, "b-private", ["true"]);
    chmodSync(theirs, 0o700);
    const r = tsrun(alice, ["run", "--bundle", theirs, "rl-private"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^tsrun: .*${theirs}.*permission denied`, "i"));
    expect(r.stderr.split("\n").length).toBe(2);
    nothingLeft(alice, "rl-private");
    // alice's own config, naming bob's private rootfs as root.path
    const mine = bundle(alice, "b-foreign-rootfs", ["true"], (c) => (c.root.path = join(theirs, "rootfs")));
    const f = tsrun(alice, ["run", "--bundle", mine, "rl-foreign"]);
    expect(f.status).toBe(1);
    expect(f.stderr).toMatch(new RegExp(`^tsrun: .*${theirs}/rootfs.*permission denied`, "i"));
    expect(f.stderr.split("\n").length).toBe(2);
    nothingLeft(alice, "rl-foreign");
  });

  test("a --root owned by someone else", () => {
    const dir = bundle(alice, "b-root", ["true"]);
    const bobs = join(bob.home, "..", `${bob.name}-root`);
    mkdirSync(bobs, { mode: 0o755 });
    bob.chown(bobs);
    try {
      const r = tsrun(alice, ["--root", bobs, "run", "--bundle", dir, "rl-root"]);
      expect(r).toMatchObject({ status: 1, stderr: `tsrun: state root ${bobs} belongs to uid ${bob.uid}, not to you (uid ${alice.uid}): give --root a directory you own\n` });
      expect(readdirSync(bobs)).toEqual([]);
    } finally {
      spawnRm(bobs);
    }
  });
});

function u32stat(p: string): { uid: number; mode: number } {
  const st = statSync(p);
  return { uid: st.uid, mode: st.mode & 0o777 };
}

function spawnRm(p: string): void {
  rmSync(p, { recursive: true, force: true });
}
