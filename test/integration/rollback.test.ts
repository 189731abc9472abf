// A failure at any step of create undoes every earlier step: each step is made to fail in turn
// (the library's test-only failAfter option), and nothing of the container may remain.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CREATE_STEPS, InjectedFault } from "../../src/lifecycle/faults.js";
import { createContainer } from "../../src/lifecycle/create.js";
import { makeContext } from "../../src/lifecycle/context.js";
import { Scratch, ensureBuilt, leftovers } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

test.each(CREATE_STEPS)("a failure after step %s leaves nothing behind", async (step) => {
  const id = s.id(`fail-${step}`);
  const pidFile = join(s.dir, `${id}.pid`);
  const ctx = makeContext(s.root);
  const bundle = s.bundle((c) => (c.process.args = ["sh", "-c", "sleep 100"]));
  await expect(createContainer(ctx, { id, bundle, pidFile, failAfter: step })).rejects.toThrow(InjectedFault);
  expect(leftovers(s.root, [id])).toEqual([]);
  expect(existsSync(join(s.root, id))).toBe(false);
  expect(existsSync(pidFile)).toBe(false);
  expect(existsSync(`/sys/fs/cgroup/memory/tsrun/${id}`)).toBe(false);
});

test("without a fault the same create succeeds (the steps above are the real ones)", async () => {
  const id = s.id("nofault");
  const ctx = makeContext(s.root);
  const bundle = s.bundle((c) => (c.process.args = ["sh", "-c", "sleep 100"]));
  const created = await createContainer(ctx, { id, bundle });
  expect(created.record.status).toBe("created");
  expect(readdirSync(join(s.root, id))).toEqual(expect.arrayContaining(["state.json", "exec.fifo"]));
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});
