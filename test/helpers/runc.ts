// runc for differential tests (Debian's package, installed by src/build/install-deps.sh --test), with a
// private --root under a test's scratch directory. A missing runc fails the test file: never a skip.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

export class Runc {
  readonly path = ["/usr/sbin/runc", "/usr/bin/runc"].find(existsSync);
  readonly root: string;
  private calls = 0;

  constructor(scratchDir: string) {
    this.root = join(scratchDir, "runc-root");
  }

  /** Throws when runc is not installed (call from beforeAll). */
  require(): void {
    if (!this.path) throw new Error("runc is not installed: run src/build/install-deps.sh --test");
  }

  /**
   * runc with captured output; `detached` gives the call no pipes (a created container would hold them),
   * `toFiles` captures its output in files instead (which a created container may keep open).
   */
  run(args: string[], opts: { detached?: boolean; toFiles?: boolean; cwd?: string } = {}): { status: number | null; stdout: string; stderr: string } {
    if (opts.toFiles) {
      mkdirSync(this.root, { recursive: true });
      const files = [1, 2].map((n) => join(this.root, `out.${process.pid}.${this.calls++}.${n}`));
      const fds = files.map((f) => openSync(f, "w"));
      try {
        const r = spawnSync(this.path!, ["--root", this.root, ...args], { cwd: opts.cwd, timeout: 30_000, stdio: ["ignore", ...fds] });
        const [stdout, stderr] = files.map((f) => readFileSync(f, "utf8"));
        return { status: r.status, stdout, stderr };
      } finally {
        fds.forEach(closeSync);
      }
    }
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
