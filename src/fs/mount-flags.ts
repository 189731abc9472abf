/** Linux mount(2) flag values (include/uapi/linux/mount.h). */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  IVERSION: 0x800000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** Flags that a bind mount only takes through a second, MS_REMOUNT|MS_BIND call. */
export const BIND_REMOUNT_FLAGS =
  MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.RELATIME | MS.STRICTATIME | MS.NOSYMFOLLOW;

/** mount_setattr(2) attribute values (include/uapi/linux/mount.h), used by the recursive r- options. */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  /** The atime mode field: RELATIME (0), NOATIME or STRICTATIME. */
  _ATIME: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

/**
 * MS_* flags of a bind remount as mount_setattr(2) attributes. mount_setattr changes only the bits it
 * is given, so the flags the kernel locked on a mount seen from a user namespace (nosuid, nodev, ...
 * of the source) are kept instead of making the remount fail with EPERM.
 */
export function msToMountAttr(flags: number): { attrSet: number; attrClr: number } {
  const pairs: [number, number][] = [
    [MS.RDONLY, MOUNT_ATTR.RDONLY], [MS.NOSUID, MOUNT_ATTR.NOSUID], [MS.NODEV, MOUNT_ATTR.NODEV],
    [MS.NOEXEC, MOUNT_ATTR.NOEXEC], [MS.NODIRATIME, MOUNT_ATTR.NODIRATIME], [MS.NOSYMFOLLOW, MOUNT_ATTR.NOSYMFOLLOW],
  ];
  let attrSet = 0;
  for (const [ms, attr] of pairs) if (flags & ms) attrSet |= attr;
  let attrClr = 0;
  const atime = flags & MS.NOATIME ? MOUNT_ATTR.NOATIME : flags & MS.STRICTATIME ? MOUNT_ATTR.STRICTATIME : flags & MS.RELATIME ? MOUNT_ATTR.RELATIME : -1;
  if (atime >= 0) {
    attrSet |= atime;
    attrClr |= MOUNT_ATTR._ATIME;
  }
  return { attrSet, attrClr };
}
