// `tsrun --version` as managers parse it: go-runc (containerd) takes exactly three lines, splits the
// first on "version " and the others on ": ", each into exactly two parts.
import { readFileSync } from "node:fs";
import { COMMIT, SPEC_VERSION, VERSION, versionText } from "../../src/version.js";
import { features } from "../../src/cli/features.js";

test("VERSION is package.json's version", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  expect(VERSION).toBe(pkg.version);
});

test("three lines, each splitting into two as go-runc's parser needs", () => {
  const lines = versionText().trim().split("\n");
  expect(lines).toHaveLength(3);
  expect(lines[0]!.split("version ")).toEqual(["tsrun ", VERSION]);
  expect(lines[1]!.split(": ")).toEqual(["commit", COMMIT]);
  expect(lines[2]!.split(": ")).toEqual(["spec", SPEC_VERSION]);
});

test("unbundled (no build-time commit), the commit is \"unknown\"; the spec line is features' ociVersionMax", () => {
  expect(COMMIT).toBe("unknown");
  expect(SPEC_VERSION).toBe(features().ociVersionMax);
});
