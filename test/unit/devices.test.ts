/**
 * src/fs/devices.ts: the device nodes a container gets.
 */
import { DEFAULT_DEVICES, DEV_SYMLINKS, S_IFBLK, S_IFCHR, S_IFIFO, deviceNodes } from "../../src/fs/devices.js";
import { fieldOf } from "../helpers/config-error.js";

const CHR = 0o020000;
const BLK = 0o060000;
const FIFO = 0o010000;


describe("deviceNodes", () => {
  test("the type bits are the kernel's", () => {
    expect([S_IFCHR, S_IFBLK, S_IFIFO]).toEqual([CHR, BLK, FIFO]);
  });

  test("with no config devices: the spec's default devices, char 0666 root-owned", () => {
    const nodes = deviceNodes(undefined);
    const byPath = Object.fromEntries(nodes.map((n) => [n.path, n]));
    expect(Object.keys(byPath).sort()).toEqual(["/dev/full", "/dev/null", "/dev/random", "/dev/tty", "/dev/urandom", "/dev/zero"]);
    expect(byPath["/dev/null"]).toEqual({ path: "/dev/null", mode: CHR | 0o666, major: 1, minor: 3, uid: 0, gid: 0 });
    expect([byPath["/dev/zero"].major, byPath["/dev/zero"].minor]).toEqual([1, 5]);
    expect([byPath["/dev/full"].major, byPath["/dev/full"].minor]).toEqual([1, 7]);
    expect([byPath["/dev/random"].major, byPath["/dev/random"].minor]).toEqual([1, 8]);
    expect([byPath["/dev/urandom"].major, byPath["/dev/urandom"].minor]).toEqual([1, 9]);
    expect([byPath["/dev/tty"].major, byPath["/dev/tty"].minor]).toEqual([5, 0]);
    expect(deviceNodes([])).toEqual(nodes);
    expect(DEFAULT_DEVICES.length).toBe(6);
  });

  test("a config device is added after the defaults", () => {
    const nodes = deviceNodes([{ type: "c", path: "/dev/fuse", major: 10, minor: 229, fileMode: 0o600, uid: 1000, gid: 1001 }]);
    expect(nodes.length).toBe(7);
    expect(nodes[6]).toEqual({ path: "/dev/fuse", mode: CHR | 0o600, major: 10, minor: 229, uid: 1000, gid: 1001 });
  });

  test("a config device with a default's path replaces it (one node per path)", () => {
    const nodes = deviceNodes([{ type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o600, uid: 5, gid: 6 }]);
    const nulls = nodes.filter((n) => n.path === "/dev/null");
    expect(nulls).toEqual([{ path: "/dev/null", mode: CHR | 0o600, major: 1, minor: 3, uid: 5, gid: 6 }]);
    expect(nodes.length).toBe(6);
  });

  test("type c/u are char, b block, p fifo; fileMode defaults to 0666", () => {
    const [c, u, b, p] = deviceNodes([
      { type: "c", path: "/dev/c0", major: 1, minor: 2 },
      { type: "u", path: "/dev/u0", major: 3, minor: 4 },
      { type: "b", path: "/dev/sda9", major: 8, minor: 9, fileMode: 0o660 },
      { type: "p", path: "/dev/mypipe" },
    ]).slice(6);
    expect(c.mode).toBe(CHR | 0o666);
    expect(u.mode).toBe(CHR | 0o666);
    expect(b.mode).toBe(BLK | 0o660);
    expect([b.major, b.minor]).toEqual([8, 9]);
    expect(p.mode).toBe(FIFO | 0o666);
    expect([p.major, p.minor]).toEqual([0, 0]);
  });

  test("type bits in fileMode cannot change the node type", () => {
    const [n] = deviceNodes([{ type: "c", path: "/dev/x", major: 1, minor: 1, fileMode: BLK | 0o644 }]).slice(6);
    expect(n.mode).toBe(CHR | 0o644);
  });

  test("a bad type is refused with its path", () => {
    expect(fieldOf(() => deviceNodes([{ type: "c", path: "/dev/a", major: 1, minor: 1 }, { type: "x" as "c", path: "/dev/b", major: 1, minor: 1 }]))).toBe("/linux/devices/1/type");
  });

  test("a c/b device without major/minor is refused", () => {
    expect(fieldOf(() => deviceNodes([{ type: "b", path: "/dev/sdz", major: 8 }]))).toBe("/linux/devices/0");
  });

  test.each(["/etc/passwd", "/dev", "dev/null", "/devices/x", "/dev/../etc/shadow", "/dev/pts/../../etc/x"])("a path outside /dev (%s) is refused", (path) => {
    expect(fieldOf(() => deviceNodes([{ type: "c", path, major: 1, minor: 3 }]))).toBe("/linux/devices/0/path");
  });

  test("the /dev symlinks runc makes; only /dev/ptmx replaces what is there", () => {
    expect(DEV_SYMLINKS.filter(([, , replace]) => replace).map(([, l]) => l)).toEqual(["/dev/ptmx"]);
    expect(Object.fromEntries(DEV_SYMLINKS.map(([t, l]) => [l, t]))).toEqual({
      "/dev/fd": "/proc/self/fd",
      "/dev/stdin": "/proc/self/fd/0",
      "/dev/stdout": "/proc/self/fd/1",
      "/dev/stderr": "/proc/self/fd/2",
      "/dev/ptmx": "pts/ptmx",
    });
  });
});
