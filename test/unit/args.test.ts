import { UsageError } from "../../src/errors.js";
import { parseVerbArgs, usageLine, verbHelp } from "../../src/cli/args.js";
import { VERBS, findVerb } from "../../src/cli/commands.js";

const create = findVerb("create")!;
const kill = findVerb("kill")!;

test("flags take values with a space or '=', with two dashes, one dash (runc style) or a short alias", () => {
  for (const argv of [["--bundle", "B", "c1"], ["--bundle=B", "c1"], ["-bundle", "B", "c1"], ["-b", "B", "c1"], ["c1", "--bundle", "B"]]) {
    const a = parseVerbArgs(create, argv);
    expect(a.flags.bundle).toBe("B");
    expect(a.positionals).toEqual(["c1"]);
  }
});

test("boolean flags, with an explicit value too", () => {
  expect(parseVerbArgs(create, ["--no-pivot", "c"]).flags["no-pivot"]).toBe(true);
  expect(parseVerbArgs(create, ["--no-pivot=false", "c"]).flags["no-pivot"]).toBe(false);
  expect(() => parseVerbArgs(create, ["--no-pivot=yes", "c"])).toThrow(/takes true or false/);
  expect(parseVerbArgs(kill, ["--all", "c", "9"])).toMatchObject({ flags: { all: true }, positionals: ["c", "9"] });
  expect(parseVerbArgs(kill, ["-a", "c"]).flags.all).toBe(true);
});

test("unknown flags, missing values, missing and extra arguments are usage errors that say so", () => {
  expect(() => parseVerbArgs(create, ["--nope", "c"])).toThrow(new UsageError("create: unknown flag --nope (see tsrun create --help)"));
  expect(() => parseVerbArgs(create, ["c", "--bundle"])).toThrow(/flag --bundle needs a value/);
  expect(() => parseVerbArgs(create, [])).toThrow(/create: missing container-id/);
  expect(() => parseVerbArgs(kill, ["c", "TERM", "x"])).toThrow(/unexpected argument "x"/);
});

test("--help and -h ask for help and skip the argument checks", () => {
  expect(parseVerbArgs(create, ["--help"]).help).toBe(true);
  expect(parseVerbArgs(kill, ["-h"]).help).toBe(true);
});

test("everything after -- is positional", () => {
  expect(parseVerbArgs(kill, ["--", "-c", "-9"]).positionals).toEqual(["-c", "-9"]);
});

test("help text lists every flag and the usage line", () => {
  const text = verbHelp(create);
  expect(usageLine(create)).toBe("tsrun create [flags] <container-id>");
  for (const f of create.flags) expect(text).toContain(`--${f.name}`);
  expect(usageLine(kill)).toBe("tsrun kill [flags] <container-id> [signal]");
});

test("verbs and aliases are found by name; every verb has a description", () => {
  expect(findVerb("rm")).toBe(findVerb("delete"));
  expect(findVerb("ls")).toBe(findVerb("list"));
  expect(findVerb("nosuch")).toBeUndefined();
  for (const v of VERBS) expect(v.description.length).toBeGreaterThan(10);
});
