// tsrun-init's executor core (the decoder, the op table, the ops) stays small enough to read in one
// sitting: every .c and .h directly in src/init/ (src/init/main.c lists them and says what lives
// outside, in subdirectories), at most 1,500 lines together.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const INIT_DIR = fileURLToPath(new URL("../../src/init", import.meta.url));
const LIMIT = 1500;

test(`the executor core of tsrun-init is at most ${LIMIT} lines`, () => {
  const files = readdirSync(INIT_DIR, { withFileTypes: true }).filter((e) => e.isFile() && /\.[ch]$/.test(e.name)).map((e) => e.name);
  expect(files).toContain("main.c");
  expect(files).toContain("ops.c");
  const lines = Object.fromEntries(files.map((f) => [f, readFileSync(join(INIT_DIR, f), "utf8").split("\n").length - 1]));
  const total = Object.values(lines).reduce((a, b) => a + b, 0);
  if (total > LIMIT) throw new Error(`the core is ${total} lines, over ${LIMIT}: ${JSON.stringify(lines)}`);
});
