/**
 * src/plan/terminal.ts: the terminal records create and exec share, and runc's console-socket rules.
 */
import { ConfigError, UsageError } from "../../src/errors.js";
import { Op } from "../../src/launch/ops.js";
import { CONSOLE_PAYLOAD, PTMX, checkConsoleFlags, planTerminal } from "../../src/plan/terminal.js";

describe("planTerminal", () => {
  test("a console socket: connect in stage 0, the pty in the child", () => {
    const t = planTerminal({ consoleSocket: "/tmp/c.sock", foreground: false, uid: 0, mountConsole: true });
    expect(t.stage0).toEqual([{ op: Op.CONSOLE_SOCKET, strs: ["/tmp/c.sock"] }]);
    expect(t.child).toEqual([{ op: Op.PTY, ints: [0, 0, 0, 1], strs: [PTMX, CONSOLE_PAYLOAD] }]);
  });

  test("attached (exec -t in the foreground): a pair, no /dev/console, size and owner as asked", () => {
    const t = planTerminal({ foreground: true, uid: 1000, mountConsole: false, consoleSize: { height: 25, width: 132 } });
    expect(t.stage0).toEqual([{ op: Op.CONSOLE_PAIR }]);
    expect(t.child).toEqual([{ op: Op.PTY, ints: [25, 132, 1000, 0], strs: ["/dev/pts/ptmx", "/dev/ptmx"] }]);
  });

  test("the payload is runc's; the master comes from the container's devpts", () => {
    expect(CONSOLE_PAYLOAD).toBe("/dev/ptmx");
    expect(PTMX).toBe("/dev/pts/ptmx");
  });

  test("consoleSize fields are checked against struct winsize, under the given process path", () => {
    const bad = (consoleSize: { height: number; width: number }) => {
      try {
        planTerminal({ foreground: true, uid: 0, mountConsole: false, consoleSize, field: "/process" });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).field;
      }
      throw new Error("expected a ConfigError");
    };
    expect(bad({ height: 65536, width: 80 })).toBe("/process/consoleSize/height");
    expect(bad({ height: 24, width: -1 })).toBe("/process/consoleSize/width");
    expect(bad({ height: 24, width: 1.5 })).toBe("/process/consoleSize/width");
  });
});

describe("checkConsoleFlags (runc's rules)", () => {
  test("allowed combinations", () => {
    expect(() => checkConsoleFlags(true, "/s", true)).not.toThrow(); // create / run -d
    expect(() => checkConsoleFlags(true, undefined, false)).not.toThrow(); // run, attached
    expect(() => checkConsoleFlags(false, undefined, true)).not.toThrow();
    expect(() => checkConsoleFlags(false, undefined, false)).not.toThrow();
  });

  test("refused combinations, each a UsageError saying what is wrong", () => {
    const msg = (f: () => void) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error("expected a UsageError");
    };
    expect(msg(() => checkConsoleFlags(true, undefined, true))).toMatch(/no --console-socket was given/);
    expect(msg(() => checkConsoleFlags(false, "/s", true))).toMatch(/no terminal was asked for/);
    expect(msg(() => checkConsoleFlags(true, "/s", false))).toMatch(/only for a detached process/);
    expect(msg(() => checkConsoleFlags(true, `/${"x".repeat(107)}`, true))).toMatch(/too long/);
  });
});
