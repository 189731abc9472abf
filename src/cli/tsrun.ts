// Entry point of bin/tsrun (bundled and run by Bun).
import { main } from "./main.js";
import { stderr } from "./stdio.js";

main(process.argv.slice(2)).then(
  // Exit now: all output went out through synchronous writes, and waiting for the event loop to wind
  // down (child-process and socket handles of tsrun-init) only costs time on every verb.
  (code) => process.exit(code),
  (e: Error) => {
    stderr.write(`tsrun: ${e.message}\n`);
    process.exit(1);
  },
);
