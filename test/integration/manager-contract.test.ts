// The small print of ../shared/managers.md that no other test covers: podman probes `checkpoint --help`
// and offers checkpointing only when it exits 0, so while tsrun cannot checkpoint, it must not.
import { Scratch, ensureBuilt } from "../helpers/tsrun.js";

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
