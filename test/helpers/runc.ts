// runc for differential tests (Debian's package, installed by src/build/install-deps.sh --test), with a
// private --root under a test's scratch directory. A missing runc fails the test file: never a skip.
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

export class Runc {
  readonly path = ["/usr/sbin/runc", "/usr/bin/runc"].find(existsSync);
  readonly root: string;

  constructor(scratchDir: string) {
    this.root = join(scratchDir, "runc-root");
  }

  /** Throws when runc is not installed (call from beforeAll). */
  require(): void {
    if (!this.path) throw new Error("runc is not installed: run src/build/install-deps.sh --test");
  }

  /** runc with captured output; `detached` gives the call no pipes (a created container would hold them). */
  run(args: string[], opts: { detached?: boolean; cwd?: string } = {}): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(this.path!, ["--root", this.root, ...args], {
      encoding: "utf8",
      cwd: opts.cwd,
      timeout: 30_000,
      stdio: opts.detached ? "ignore" : "pipe",
    });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
