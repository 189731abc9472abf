/* MASK: the record carries both ways to hide a path; its type, known only now, picks one. */
#include "init.h"
#include <sys/mount.h>

void op_mask(const struct rec *r)
{
	const char *path = S(0), *root = S(1), *null_path = S(5);
	char at[FD_PATH_SIZE], from[FD_PATH_SIZE];
	struct stat st, ns;
	int fd = open_in_root(root, path, O_PATH), nfd;
	if (fd < 0 && errno == ENOENT)
		return;
	FAIL_IF(fd < 0, "mask %s: %s", path, ERR);
	FAIL_IF(fstat(fd, &st) < 0, "mask %s: stat: %s", path, ERR);
	if (S_ISDIR(st.st_mode)) {
		FAIL_IF(mount(S(2), fd_path(at, fd), S(3), (unsigned long)I(0), *S(4) ? S(4) : NULL) < 0,
			"mask %s (directory, %s): %s", path, S(3), ERR);
	} else {
		/* The real null device: a rootfs's /dev/null linked to a host file must not be bound over it. */
		nfd = open_in_root(root, null_path, O_PATH);
		FAIL_IF(nfd < 0 || fstat(nfd, &ns) < 0, "mask %s: open %s: %s", path, null_path, ERR);
		FAIL_IF(!S_ISCHR(ns.st_mode) || ns.st_rdev != makedev(1, 3), "mask %s: %s is not the null device", path, null_path);
		FAIL_IF(mount(fd_path(from, nfd), fd_path(at, fd), NULL, MS_BIND | (unsigned long)I(1), NULL) < 0,
			"mask %s (file, bind of %s): %s", path, null_path, ERR);
		close(nfd);
	}
	close(fd);
}
