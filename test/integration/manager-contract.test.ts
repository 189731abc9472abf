// The small print of ../shared/managers.md that no other test covers: podman probes `checkpoint --help`
// and offers checkpointing only when it exits 0. tsrun checkpoints with CRIU (issue 21), so it does, as
// runc's does, whether or not CRIU works on this host (that is checkpoint's own error to report:
// test/integration/criu.test.ts); and containerd's shim may call from a working directory that no
// longer exists.
import { Scratch, TSRUN, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

test.each(["checkpoint", "restore"])("%s --help exits 0 with its usage on stdout, nothing on stderr", (verb) => {
  const r = s.tsrun([verb, "--help"]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`Usage: tsrun ${verb} [flags] <container-id>`);
  expect(r.stdout).toContain("--image-path DIR");
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
