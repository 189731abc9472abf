// Entry point of bin/tsrun (bundled and run by Bun).
import { main } from "./main.js";
import { stderr } from "./stdio.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    stderr.write(`tsrun: ${e.message}\n`);
    process.exitCode = 1;
  },
);
