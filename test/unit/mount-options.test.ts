/**
 * src/fs/mount-options.ts: what a mount's `options` list asks of mount(2).
 */
import { ConfigError } from "../../src/errors.js";
import { MOUNT_ATTR, MS } from "../../src/fs/mount-flags.js";
import { isKnownDataOption, parseMountOptions } from "../../src/fs/mount-options.js";

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
      expect(parseMountOptions(o, F)).toEqual({ flags: 0, propagation: [], data: "", bind: false, recursive: false, attrSet: 0, attrClr: 0, copyUp: false });
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
    ["copy-symlink", 1],
    ["copy-symlink", 3],
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

  test("idmap and ridmap are parsed (the last one wins), not data: src/fs/idmapped-mounts.ts plans them", () => {
    expect(parseMountOptions(["rbind", "idmap"], F, "bind")).toMatchObject({ idmap: { recursive: false, index: 1 }, data: "", recursive: true });
    expect(parseMountOptions(["ridmap", "bind", "ro"], F, "bind").idmap).toEqual({ recursive: true, index: 0 });
    expect(parseMountOptions(["idmap", "ridmap"], F, "bind").idmap).toEqual({ recursive: true, index: 1 });
    expect(parseMountOptions(["bind"], F, "bind").idmap).toBeUndefined();
  });

  test("options that merely start like a refused one are data, not refused (no type checked)", () => {
    expect(parseMountOptions(["idmapped=1", "rootcontext=x"], F).data).toBe("idmapped=1,rootcontext=x");
  });
});

describe("parseMountOptions: recursive attributes (mount_setattr)", () => {
  // [option, set bits, clear bits], each on its own
  const cases: [string, number, number][] = [
    ["rro", MOUNT_ATTR.RDONLY, 0],
    ["rrw", 0, MOUNT_ATTR.RDONLY],
    ["rnosuid", MOUNT_ATTR.NOSUID, 0],
    ["rsuid", 0, MOUNT_ATTR.NOSUID],
    ["rnodev", MOUNT_ATTR.NODEV, 0],
    ["rdev", 0, MOUNT_ATTR.NODEV],
    ["rnoexec", MOUNT_ATTR.NOEXEC, 0],
    ["rexec", 0, MOUNT_ATTR.NOEXEC],
    ["rnodiratime", MOUNT_ATTR.NODIRATIME, 0],
    ["rdiratime", 0, MOUNT_ATTR.NODIRATIME],
    ["rnosymfollow", MOUNT_ATTR.NOSYMFOLLOW, 0],
    ["rsymfollow", 0, MOUNT_ATTR.NOSYMFOLLOW],
    // atime is one mode: always clear the whole field, set the one mode
    ["rnoatime", MOUNT_ATTR.NOATIME, MOUNT_ATTR._ATIME],
    ["ratime", MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME],
    ["rrelatime", MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME],
    ["rnorelatime", MOUNT_ATTR.STRICTATIME, MOUNT_ATTR._ATIME],
    ["rstrictatime", MOUNT_ATTR.STRICTATIME, MOUNT_ATTR._ATIME],
    ["rnostrictatime", MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME],
  ];
  test.each(cases)("%s -> attr_set 0x%s, attr_clr 0x%s; no mount(2) flag", (opt, set, clr) => {
    const p = parseMountOptions([opt], F, "tmpfs");
    expect([p.attrSet, p.attrClr]).toEqual([set, clr]);
    expect(p.flags).toBe(0);
    expect(p.data).toBe("");
  });

  test("the MOUNT_ATTR values are the kernel's", () => {
    expect(MOUNT_ATTR).toMatchObject({ RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, _ATIME: 0x70, NOATIME: 0x10, STRICTATIME: 0x20, NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000 });
  });

  test("the last word about a bit wins; different bits combine", () => {
    expect(parseMountOptions(["rro", "rrw"], F)).toMatchObject({ attrSet: 0, attrClr: MOUNT_ATTR.RDONLY });
    expect(parseMountOptions(["rrw", "rro"], F)).toMatchObject({ attrSet: MOUNT_ATTR.RDONLY, attrClr: 0 });
    expect(parseMountOptions(["rro", "rnosuid", "rexec"], F)).toMatchObject({ attrSet: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, attrClr: MOUNT_ATTR.NOEXEC });
  });

  test("the last atime mode wins and leaves the other bits alone", () => {
    const p = parseMountOptions(["rnoatime", "rro", "rstrictatime"], F);
    expect(p.attrSet).toBe(MOUNT_ATTR.RDONLY | MOUNT_ATTR.STRICTATIME);
    expect(p.attrClr).toBe(MOUNT_ATTR._ATIME);
  });

  test("r- options mix with plain flags and bind", () => {
    const p = parseMountOptions(["rbind", "ro", "rro", "rprivate"], F, "bind");
    expect(p).toMatchObject({ bind: true, recursive: true, flags: MS.RDONLY, attrSet: MOUNT_ATTR.RDONLY, propagation: [MS.PRIVATE | MS.REC] });
  });
});

describe("parseMountOptions: tmpcopyup", () => {
  test("tmpcopyup is a flag of the result, not data", () => {
    const p = parseMountOptions(["tmpcopyup", "mode=755"], F, "tmpfs");
    expect(p.copyUp).toBe(true);
    expect(p.data).toBe("mode=755");
  });
});

describe("parseMountOptions: unknown options", () => {
  const refused = (options: string[], fstype: string): ConfigError => {
    try {
      parseMountOptions(options, "/mounts/5/options", fstype);
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error("not refused");
  };

  test.each([
    [["nosuid", "bogus"], "tmpfs", 1],
    [["sizee=1k"], "tmpfs", 0],
    [["newinstance"], "tmpfs", 0],
    [["size=1k"], "devpts", 0],
    [["anything"], "mqueue", 0],
    [["mode=755"], "sysfs", 0],
    [["hidepid=2", "hidepids=2"], "proc", 1],
  ])("%j on %s: ConfigError naming the option at its index", (options, fstype, at) => {
    const e = refused(options, fstype);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.field).toBe(`/mounts/5/options/${at}`);
    expect(e.message).toContain(`"${options[at]}"`);
  });

  test("a bind mount accepts any data word, as runc does (the planner drops it)", () => {
    expect(parseMountOptions(["rbind", "ro", "mode=755", "size=1k", "anything"], F, "bind")).toMatchObject({ bind: true, flags: MS.RDONLY, data: "mode=755,size=1k,anything" });
  });

  test.each([
    ["tmpfs", ["size=65536k", "mode=1777", "uid=1", "gid=2", "nr_inodes=10k", "nr_blocks=5", "huge=never", "inode64", "noswap"]],
    ["devpts", ["newinstance", "ptmxmode=0666", "mode=0620", "gid=5", "max=100"]],
    ["proc", ["hidepid=invisible", "subset=pid", "gid=3"]],
    ["cgroup", ["memory", "name=systemd", "none"]],
    ["cgroup2", ["nsdelegate", "memory_recursiveprot"]],
    ["overlay", ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "userxattr"]],
    ["tmpfs", ['context="system_u:object_r:container_file_t:s0"', "rootcontext=x"]],
  ])("real data options of %s pass through in order", (fstype, options) => {
    expect(parseMountOptions(options, F, fstype).data).toBe(options.join(","));
  });

  test("a filesystem type tsrun has no table for passes its data through unchecked", () => {
    expect(parseMountOptions(["errors=remount-ro", "whatever"], F, "ext4").data).toBe("errors=remount-ro,whatever");
    expect(isKnownDataOption("fuse.sshfs", "anything")).toBe(true);
  });

  test("isKnownDataOption matches key= prefixes and bare words exactly", () => {
    expect(isKnownDataOption("tmpfs", "size=1")).toBe(true);
    expect(isKnownDataOption("tmpfs", "size")).toBe(false);
    expect(isKnownDataOption("devpts", "newinstance")).toBe(true);
    expect(isKnownDataOption("devpts", "newinstance=1")).toBe(false);
  });
});
