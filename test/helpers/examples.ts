// The managers' example configs live in shared/, beside the repository (as CI checks it out); this
// machine's copy at /work/shared is the fallback for a clone made elsewhere.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const beside = join(repo, "..", "shared", "examples");

export const EXAMPLES = [beside, "/work/shared/examples"].find((d) => existsSync(d)) ?? beside;
