// rootfsPropagation shared (containerd's "Bidirectional" volumes): "/" must stay a peer of the host's mounts
// so that mounts made under a shared volume reach the host, yet the bind of the rootfs and pivot_root must not
// propagate nor fail on a shared parent. runc makes the one mount that holds the rootfs private (its
// rootfsParentMountPrivate); this finds that mount. Pure: the caller passes /proc/self/mountinfo's text.

/** mountinfo octal escapes (\040 for a space, ...). */
function unescape(s: string): string {
  return s.includes("\\") ? s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))) : s;
}

function under(path: string, mountPoint: string): boolean {
  return mountPoint === "/" || path === mountPoint || path.startsWith(`${mountPoint}/`);
}

/**
 * The mount point of the mount that holds `path` (itself when it is a mount point: the last mounted over it
 * wins), and whether that mount is shared (a "shared:N" optional field).
 */
export function parentMount(mountinfo: string, path: string): { mountPoint: string; shared: boolean } | undefined {
  let best: { mountPoint: string; shared: boolean } | undefined;
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    if (f.length < 7) continue;
    const mountPoint = unescape(f[4]!);
    if (!under(path, mountPoint)) continue;
    const sep = f.indexOf("-", 6);
    const optional = f.slice(6, sep < 0 ? undefined : sep);
    // Later lines are mounted later: at an equal length the later one covers the earlier.
    if (!best || mountPoint.length >= best.mountPoint.length) best = { mountPoint, shared: optional.some((o) => o.startsWith("shared:")) };
  }
  return best;
}
