// Driving a command through a real pseudo-terminal (test/helpers/pty-drive.py), as a person would.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { TOP } from "./tsrun.js";

/** Run argv in a real pty, typing `send` once `expect` has appeared in its output (each step in turn). */
export function inPty(argv: { file: string; args: string[]; env: NodeJS.ProcessEnv }, steps: { expect: string; send: string }[]) {
  const spec = { argv: [argv.file, ...argv.args], env: argv.env, steps, timeout: 30 };
  const r = spawnSync("python3", [join(TOP, "test/helpers/pty-drive.py"), JSON.stringify(spec)], { encoding: "utf8", timeout: 40_000 });
  if (r.status !== 0) throw new Error(`pty-drive: ${r.stderr}`);
  return JSON.parse(r.stdout) as { output: string; status: number; timedOut: boolean };
}
