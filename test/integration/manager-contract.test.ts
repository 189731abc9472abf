// The small print of ../shared/managers.md that no other test covers: podman probes `checkpoint --help`
// and offers checkpointing only when it exits 0. tsrun checkpoints with CRIU (issue 21), so it does, as
// runc's does, whether or not CRIU works on this host (that is checkpoint's own error to report:
// test/integration/criu.test.ts).
import { Scratch, ensureBuilt } from "../helpers/tsrun.js";

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
