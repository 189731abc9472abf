/**
 * src/fs/mount-options.ts: what a mount's `options` list asks of mount(2).
 */
import { ConfigError } from "../../src/errors.js";
import { MS } from "../../src/fs/mount-flags.js";
import { parseMountOptions } from "../../src/fs/mount-options.js";

const F = "/mounts/2/options";

describe("parseMountOptions: flag options", () => {
  // [option that sets the bit, option that clears it, bit]
  const pairs: [string, string | undefined, number][] = [
    ["ro", "rw", MS.RDONLY],
    ["nosuid", "suid", MS.NOSUID],
    ["nodev", "dev", MS.NODEV],
    ["noexec", "exec", MS.NOEXEC],
    ["sync", "async", MS.SYNCHRONOUS],
    ["dirsync", undefined, MS.DIRSYNC],
    ["remount", undefined, MS.REMOUNT],
    ["mand", "nomand", MS.MANDLOCK],
    ["noatime", "atime", MS.NOATIME],
    ["nodiratime", "diratime", MS.NODIRATIME],
    ["relatime", "norelatime", MS.RELATIME],
    ["strictatime", "nostrictatime", MS.STRICTATIME],
    ["nosymfollow", "symfollow", MS.NOSYMFOLLOW],
    ["lazytime", "nolazytime", MS.LAZYTIME],
    ["iversion", "noiversion", MS.IVERSION],
    ["silent", "loud", MS.SILENT],
  ];

  test.each(pairs)("%s sets its bit, %s after it clears it", (on, off, bit) => {
    const set = parseMountOptions([on], F);
    expect(set.flags).toBe(bit);
    expect(set.data).toBe("");
    expect(set.bind).toBe(false);
    if (off) {
      expect(parseMountOptions([on, off], F).flags).toBe(0);
      // order matters: the last one wins
      expect(parseMountOptions([off, on], F).flags).toBe(bit);
      // clearing one bit leaves the others alone
      const other = on === "noexec" ? "nodev" : "noexec";
      expect(parseMountOptions([other, on, off], F).flags).toBe(other === "noexec" ? MS.NOEXEC : MS.NODEV);
    }
  });

  test("the mount-flag values are the kernel's", () => {
    expect(MS.RDONLY).toBe(1);
    expect(MS.NOSUID).toBe(2);
    expect(MS.NODEV).toBe(4);
    expect(MS.NOEXEC).toBe(8);
    expect(MS.BIND).toBe(4096);
    expect(MS.REC).toBe(16384);
    expect(MS.PRIVATE).toBe(1 << 18);
    expect(MS.SLAVE).toBe(1 << 19);
    expect(MS.SHARED).toBe(1 << 20);
    expect(MS.STRICTATIME).toBe(1 << 24);
  });

  test("a typical /sys mount: nosuid,noexec,nodev,ro", () => {
    const p = parseMountOptions(["nosuid", "noexec", "nodev", "ro"], F);
    expect(p.flags).toBe(MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY);
    expect(p.propagation).toEqual([]);
    expect(p.data).toBe("");
  });

  test("rw on its own sets nothing", () => {
    expect(parseMountOptions(["rw"], F).flags).toBe(0);
  });

  test("no options, or undefined, is an empty result", () => {
    for (const o of [undefined, []]) {
      expect(parseMountOptions(o, F)).toEqual({ flags: 0, propagation: [], data: "", bind: false, recursive: false });
    }
  });
});

describe("parseMountOptions: bind, propagation, data", () => {
  test("bind is a non-recursive bind", () => {
    const p = parseMountOptions(["bind"], F);
    expect(p.bind).toBe(true);
    expect(p.recursive).toBe(false);
    expect(p.flags).toBe(0);
  });

  test("rbind is a recursive bind", () => {
    const p = parseMountOptions(["rbind", "ro"], F);
    expect(p.bind).toBe(true);
    expect(p.recursive).toBe(true);
    expect(p.flags).toBe(MS.RDONLY);
    expect(p.data).toBe("");
  });

  test("propagation options are collected in order, with REC for the r- forms, not mixed into flags", () => {
    const p = parseMountOptions(["rprivate", "shared", "rslave", "unbindable", "private", "rshared", "slave", "runbindable"], F);
    expect(p.propagation).toEqual([
      MS.PRIVATE | MS.REC,
      MS.SHARED,
      MS.SLAVE | MS.REC,
      MS.UNBINDABLE,
      MS.PRIVATE,
      MS.SHARED | MS.REC,
      MS.SLAVE,
      MS.UNBINDABLE | MS.REC,
    ]);
    expect(p.flags).toBe(0);
  });

  test("unknown options are filesystem data, comma-joined in order (tmpfs)", () => {
    const p = parseMountOptions(["nosuid", "strictatime", "mode=755", "size=65536k"], F);
    expect(p.flags).toBe(MS.NOSUID | MS.STRICTATIME);
    expect(p.data).toBe("mode=755,size=65536k");
  });

  test("devpts options: flags out, data in", () => {
    const p = parseMountOptions(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"], F);
    expect(p.flags).toBe(MS.NOSUID | MS.NOEXEC);
    expect(p.data).toBe("newinstance,ptmxmode=0666,mode=0620,gid=5");
  });
});

describe("parseMountOptions: options not supported yet", () => {
  test.each([
    ["rro", 1],
    ["rnosuid", 0],
    ["rnoexec", 2],
    ["tmpcopyup", 1],
    ["idmap", 0],
    ["ridmap", 3],
  ])("%s is refused with /mounts/N/options/I", (opt, at) => {
    const options = ["nosuid", "nodev", "mode=755", "size=1k"];
    options.splice(at, 0, opt);
    let err: unknown;
    try {
      parseMountOptions(options, "/mounts/4/options");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe(`/mounts/4/options/${at}`);
    expect((err as Error).message).toContain(`/mounts/4/options/${at}`);
    expect((err as Error).message).toContain(opt);
  });

  test("options that merely start like a refused one are data, not refused", () => {
    expect(parseMountOptions(["idmapped=1", "rootcontext=x"], F).data).toBe("idmapped=1,rootcontext=x");
  });
});
