/** tsrun's version (package.json's "version"; test/unit/version.test.ts keeps the two in step). */
export const VERSION = "0.1.0";

/** The runtime-spec version tsrun implements: `--version`'s spec line and features' ociVersionMax. */
export const SPEC_VERSION = "1.3.0";

// Defined by the build (src/build/build.mjs, bun --define) as the git commit bin/tsrun was built from;
// absent where the source runs unbundled (tests under ts-jest) or in the library bundle.
declare const TSRUN_COMMIT: string | undefined;

/** The commit of the build: a full git sha, "-dirty" when tracked files differed from it, or "unknown". */
export const COMMIT = typeof TSRUN_COMMIT === "string" && TSRUN_COMMIT !== "" ? TSRUN_COMMIT : "unknown";

/** `tsrun --version`: runc's three lines, which go-runc (containerd) parses as exactly three. */
export function versionText(): string {
  return `tsrun version ${VERSION}\ncommit: ${COMMIT}\nspec: ${SPEC_VERSION}\n`;
}
