import { MOUNT_ATTR, MS, msToMountAttr } from "../../src/fs/mount-flags.js";

test("bind remount flags become mount_setattr bits, and only those", () => {
  expect(msToMountAttr(MS.RDONLY)).toEqual({ attrSet: MOUNT_ATTR.RDONLY, attrClr: 0 });
  expect(msToMountAttr(MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC)).toEqual({
    attrSet: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC,
    attrClr: 0,
  });
  expect(msToMountAttr(MS.NODIRATIME | MS.NOSYMFOLLOW).attrSet).toBe(MOUNT_ATTR.NODIRATIME | MOUNT_ATTR.NOSYMFOLLOW);
});

test("an atime flag sets the atime mode and clears the field first", () => {
  expect(msToMountAttr(MS.NOATIME)).toEqual({ attrSet: MOUNT_ATTR.NOATIME, attrClr: MOUNT_ATTR._ATIME });
  expect(msToMountAttr(MS.STRICTATIME)).toEqual({ attrSet: MOUNT_ATTR.STRICTATIME, attrClr: MOUNT_ATTR._ATIME });
  expect(msToMountAttr(MS.RELATIME)).toEqual({ attrSet: MOUNT_ATTR.RELATIME, attrClr: MOUNT_ATTR._ATIME });
  expect(msToMountAttr(0)).toEqual({ attrSet: 0, attrClr: 0 });
});
