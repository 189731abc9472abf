/**
 * Signals: the signal argument of `tsrun kill` (src/lifecycle/signals.ts), and a child's exit status
 * as a shell reports it (src/init/spawn.ts).
 */
import { UsageError } from "../../src/errors.js";
import { parseKillSignal, parseSignal } from "../../src/lifecycle/signals.js";

describe("parseSignal", () => {
  test.each([
    ["TERM", 15],
    ["SIGTERM", 15],
    ["sigterm", 15],
    ["term", 15],
    ["15", 15],
    ["KILL", 9],
    ["SIGKILL", 9],
    ["9", 9],
    ["HUP", 1],
    ["INT", 2],
    ["USR1", 10],
    ["SIGUSR2", 12],
    ["CHLD", 17],
    ["STOP", 19],
    ["CONT", 18],
    ["WINCH", 28],
    ["1", 1],
    ["64", 64],
    ["RTMIN", 34],
    ["RTMIN+3", 37],
    ["SIGRTMIN+1", 35],
    ["rtmin+30", 64],
    ["RTMAX", 64],
    ["SIGRTMAX-1", 63],
    ["RTMAX-30", 34],
  ])("%s -> %d", (text, n) => {
    expect(parseSignal(text)).toBe(n);
  });

  test.each(["0", "65", "100", "-1", "FOO", "SIGFOO", "", "SIG", "RTMIN-1", "RTMAX+1", "RTMIN+31", "1.5", "TERM9"])(
    "%p is refused with a UsageError",
    (text) => {
      expect(() => parseSignal(text)).toThrow(UsageError);
    },
  );

  test("the message names the bad signal", () => {
    expect(() => parseSignal("FOO")).toThrow(/FOO/);
  });
});

describe("parseKillSignal", () => {
  test("0 (only a check that the process is alive, as kill(2) and runc take it)", () => {
    expect(parseKillSignal("0")).toBe(0);
    expect(parseKillSignal("00")).toBe(0);
  });

  test("every other signal as parseSignal reads it", () => {
    expect(parseKillSignal("KILL")).toBe(9);
    expect(parseKillSignal("15")).toBe(15);
    expect(parseKillSignal("RTMIN+3")).toBe(37);
  });

  test.each(["SIG0", "-0", "65", "FOO", ""])("%p is refused with a UsageError", (text) => {
    expect(() => parseKillSignal(text)).toThrow(UsageError);
  });
});

test("a child's exit status as a shell reports it: the code, 128+N for signal N, 255 for neither", async () => {
  const { shellStatus } = await import("../../src/init/spawn.js");
  expect(shellStatus(3, null)).toBe(3);
  expect(shellStatus(null, "SIGKILL")).toBe(137);
  expect(shellStatus(null, "SIGTERM")).toBe(143);
  expect(shellStatus(null, null)).toBe(255);
});
