import { existsSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { TsrunError } from "../errors.js";

/**
 * Where tsrun-init is: $TSRUN_INIT, else next to the running tsrun executable (bin/tsrun ->
 * bin/tsrun-init; symlinks followed, as npm's <prefix>/bin/tsrun), else bin/ of the source tree or
 * package (library use on Node).
 */
export function initPath(): string {
  const fromEnv = process.env.TSRUN_INIT;
  if (fromEnv) return fromEnv;
  const candidates: string[] = [];
  try {
    candidates.push(join(dirname(realpathSync(process.execPath)), "tsrun-init"));
  } catch {
    // no execPath to follow
  }
  try {
    // The URL by hand, not node:url's fileURLToPath: that module costs 0.6 ms to load under Bun.
    const url = new URL(import.meta.url);
    // dist/index.js (the library bundle, in the repository or the npm package) is one level below the
    // top, src/init/locate.ts (unbundled, under ts-jest) two.
    if (url.protocol === "file:") {
      const here = dirname(decodeURIComponent(url.pathname));
      candidates.push(join(here, "../bin/tsrun-init"), join(here, "../../bin/tsrun-init"));
    }
  } catch {
    // bundled: import.meta.url may not be a file URL
  }
  for (const c of candidates) if (existsSync(c)) return c;
  throw new TsrunError(`tsrun-init not found (looked in ${candidates.join(", ")}); run the build, or set TSRUN_INIT`);
}
