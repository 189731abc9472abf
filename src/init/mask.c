/*
 * MASK (34): hide a path of the container (linux.maskedPaths). Whether the path is a directory, a
 * file or missing is only known once the container's root is in place, so the record carries both
 * ways to hide it and this picks by the path's type: a directory gets the record's filesystem
 * (an empty read-only tmpfs), anything else a bind of the record's null device; a missing path is
 * left alone (the spec allows it).
 */
#include "init.h"
#include <sys/mount.h>

void op_mask(const struct rec *r)
{
	const char *path = S(0), *root = S(1), *dir_src = S(2), *dir_type = S(3), *dir_data = S(4), *null_path = S(5);
	int fd = open_in_root(root, path, O_PATH);
	if (fd < 0) {
		if (errno == ENOENT)
			return;
		fail(1, "mask %s: %s", path, ERR);
	}
	struct stat st;
	FAIL_IF(fstat(fd, &st) < 0, "mask %s: stat: %s", path, ERR);
	char at[64];
	snprintf(at, sizeof at, "/proc/self/fd/%d", fd);
	if (S_ISDIR(st.st_mode)) {
		FAIL_IF(mount(dir_src, at, dir_type, (unsigned long)I(0), *dir_data ? dir_data : NULL) < 0,
			"mask %s (directory, %s): %s", path, dir_type, ERR);
	} else {
		/* The null device is looked up inside the root too, and must be the real one: a rootfs whose
		 * /dev/null is a link to a host file would otherwise bind that file over the path. */
		int nfd = open_in_root(root, null_path, O_PATH);
		struct stat ns;
		FAIL_IF(nfd < 0 || fstat(nfd, &ns) < 0, "mask %s: open %s: %s", path, null_path, ERR);
		FAIL_IF(!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3),
			"mask %s: %s is not the null device", path, null_path);
		char from[64];
		snprintf(from, sizeof from, "/proc/self/fd/%d", nfd);
		FAIL_IF(mount(from, at, NULL, MS_BIND | (unsigned long)I(1), NULL) < 0,
			"mask %s (file, bind of %s): %s", path, null_path, ERR);
		close(nfd);
	}
	close(fd);
}
