/**
 * src/fs/shared-parent-mount.ts: the mount that holds a rootfs, from mountinfo text.
 */
import { parentMount } from "../../src/fs/shared-parent-mount.js";

const MOUNTINFO = [
  "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
  "30 22 0:25 / /tmp rw,nosuid,nodev shared:5 - tmpfs tmpfs rw",
  "41 30 0:40 / /tmp/b/rootfs rw,relatime - overlay overlay rw,lowerdir=/x",
  "42 30 0:41 / /tmp/with\\040space rw shared:9 - tmpfs t rw",
  "",
].join("\n");

describe("parentMount", () => {
  test("a rootfs that is a mount point of its own is its own parent (not shared here)", () => {
    expect(parentMount(MOUNTINFO, "/tmp/b/rootfs")).toEqual({ mountPoint: "/tmp/b/rootfs", shared: false });
  });
  test("the longest mount point above the path wins, and its shared:N field says shared", () => {
    expect(parentMount(MOUNTINFO, "/tmp/b/other")).toEqual({ mountPoint: "/tmp", shared: true });
    expect(parentMount(MOUNTINFO, "/tmpfoo/x")).toEqual({ mountPoint: "/", shared: true });
  });
  test("mountinfo escapes are decoded", () => {
    expect(parentMount(MOUNTINFO, "/tmp/with space/r")).toEqual({ mountPoint: "/tmp/with space", shared: true });
  });
  test("of two mounts on one point the later (covering) one counts", () => {
    const stacked = `${MOUNTINFO}50 41 0:50 / /tmp/b/rootfs rw shared:12 - tmpfs t rw\n`;
    expect(parentMount(stacked, "/tmp/b/rootfs")).toEqual({ mountPoint: "/tmp/b/rootfs", shared: true });
  });
});
