// Entry point of bin/tsrun (bundled and run by Bun).
import { main } from "./main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`tsrun: ${e.message}\n`);
    process.exitCode = 1;
  },
);
