/*
 * DETACH_PSEUDO_FS (72): with --no-pivot, right before MOVE_ROOT. The old root is not unmounted by a
 * move + chroot, so every mount the container's namespace copied from the host stays in it, hidden
 * behind the chroot but not gone. The kernel lets a process that made its own user and mount
 * namespace mount a new procfs or sysfs only when a *full* one (the filesystem's root mounted, no
 * locked mount covering part of it) is already in its mount namespace (fs/namespace.c,
 * mount_too_revealing): the host's /proc would be that one, and the fresh procfs would show what
 * linux.maskedPaths hide. So, as runc's msMoveRoot does, every full procfs or sysfs mount outside the
 * rootfs is detached, or covered by an empty tmpfs where the kernel refuses to unmount it (a mount
 * locked in a user namespace). The plan gives the rootfs and the filesystem types; which mounts those
 * are can only be read here: the namespace is the child's, and mounts propagate into it until now.
 *
 * strs: rootfs, fstype... Mount points are taken from /proc/self/mountinfo, all of it read before the
 * first detach (the host's /proc may be among them). A point that no longer resolves to a mount
 * (ENOENT, EINVAL: it went with a parent detached before it) is skipped.
 */
#include "init.h"
#include <sys/mount.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

static char *read_mountinfo(void)
{
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	FAIL_IF(fd < 0, "--no-pivot: open /proc/self/mountinfo: %s", ERR);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		FAIL_IF(!buf, "--no-pivot: read /proc/self/mountinfo: %s", ERR);
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			continue;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		FAIL_IF(n < 0, "--no-pivot: read /proc/self/mountinfo: %s", ERR);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

static int wanted_type(const struct rec *r, const char *fstype)
{
	for (uint32_t i = 1; i < r->nstr; i++)
		if (strcmp(S(i), fstype) == 0)
			return 1;
	return 0;
}

void op_detach_pseudo_fs(const struct rec *r)
{
	const char *rootfs = S(0);
	char *info = read_mountinfo();
	size_t npoints = 0;
	char **points = NULL;
	char *lines;
	for (char *line = strtok_r(info, "\n", &lines); line; line = strtok_r(NULL, "\n", &lines)) {
		/* id parent major:minor root mountpoint options [optional fields...] - fstype source super */
		char *f[5] = {0};
		char *save, *tok = strtok_r(line, " ", &save);
		for (int k = 0; k < 5 && tok; k++, tok = strtok_r(NULL, " ", &save))
			f[k] = tok;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " ", &save);
		char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
		if (!f[4] || !fstype || strcmp(f[3], "/") != 0 || !wanted_type(r, fstype))
			continue;
		unescape(f[4]);
		if (path_in_root(rootfs, f[4]))
			continue; /* the container's own */
		char **grown = realloc(points, (npoints + 1) * sizeof *points);
		FAIL_IF(!grown, "--no-pivot: %s", ERR);
		points = grown;
		points[npoints++] = f[4];
	}
	for (size_t i = 0; i < npoints; i++) {
		const char *p = points[i];
		/* Never let the unmount propagate back to the host. */
		if (mount(NULL, p, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
			if (errno == ENOENT || errno == EINVAL)
				continue;
			fail(1, "--no-pivot: make %s rslave: %s", p, ERR);
		}
		if (umount2(p, MNT_DETACH) == 0)
			continue;
		FAIL_IF(errno != EINVAL && errno != EPERM, "--no-pivot: detach %s: %s", p, ERR);
		FAIL_IF(mount("tmpfs", p, "tmpfs", 0, NULL) < 0, "--no-pivot: cover %s with a tmpfs: %s", p, ERR);
	}
	free(points);
	free(info);
}
