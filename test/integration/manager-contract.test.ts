// The small print of ../shared/managers.md that no other test covers: podman probes `checkpoint --help`
// and offers checkpointing only when it exits 0, so while tsrun cannot checkpoint, it must not; and
// containerd's shim may call from a working directory that no longer exists.
import { Scratch, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

test.each(["checkpoint", "restore"])("%s --help exits non-zero with one line saying it is not supported", (verb) => {
  const r = s.tsrun([verb, "--help"]);
  expect(r.status).not.toBe(0);
  expect(r.stdout).toBe("");
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).toContain(`${verb} is not supported`);
});

// containerd's runc v2 shim runs every call on a pod's containers from the sandbox's bundle directory;
// once a dead sandbox is cleaned up that directory is gone, and `kill`/`delete` of the remaining
// containers still have to work (runc, in Go, does not care where it runs).
test("run, kill and delete work from a deleted working directory", () => {
  const id = s.id("cwdgone");
  const bundle = s.bundle((c) => (c.process.args = ["sleep", "1000"]));
  const gone = `${s.dir}/cwd-gone`;
  const inGone = (...args: string[]) =>
    s.command("/bin/sh", ["-c", `mkdir "${gone}" && cd "${gone}" && rmdir "${gone}" && exec "$0" "$@"`, TSRUN, "--root", s.root, ...args]);
  expect(inGone("run", "--detach", "--bundle", bundle, id)).toMatchObject({ status: 0, stderr: "" });
  expect(s.state(id).status).toBe("running");
  expect(inGone("kill", id, "KILL")).toMatchObject({ status: 0, stderr: "" });
  expect(inGone("delete", "--force", id)).toMatchObject({ status: 0, stderr: "" });
  expect(s.tsrun(["state", id]).status).not.toBe(0);
});
