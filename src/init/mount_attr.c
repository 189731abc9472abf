/* MOUNT_SETATTR and COPY_UP: every path resolved inside the root. */
#include "init.h"
#include <linux/mount.h>

#define COPY_MAX_DEPTH 200 /* a deeper copied tree is refused: each level holds two fds */

void op_mount_setattr(const struct rec *r)
{
	const char *target = S(0), *root = S(1);
	int fd = open_in_root(root, target, O_PATH);
	FAIL_IF(fd < 0, "mount_setattr %s: resolve in %s: %s", target, *root ? root : "/", ERR);
	struct mount_attr attr = {.attr_set = I(0), .attr_clr = I(1), .propagation = I(2)};
	FAIL_IF(syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (I(3) ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0,
		"mount_setattr %s (set 0x%llx, clear 0x%llx%s): %s", target, U(0), U(1), I(3) ? ", recursive" : "", ERR);
	close(fd);
}

static int copyup_fd = -1; /* phase 0 -> phase 1: the directory the tmpfs covers */

static int copy_bytes(int in, int out)
{
	char buf[65536];
	for (ssize_t n, w, off;;) {
		if ((n = read(in, buf, sizeof buf)) <= 0 && !(n < 0 && errno == EINTR))
			return (int)n;
		for (off = 0; off < n; off += w > 0 ? w : 0)
			if ((w = write(out, buf + off, (size_t)(n - off))) < 0 && errno != EINTR)
				return -1;
	}
}

/* Copy directory src into dst (fds, closed on return), each name O_NOFOLLOW in its parent's fd. */
static void copy_tree(int src, int dst, const char *path, int depth)
{
	FAIL_IF(depth > COPY_MAX_DEPTH, "tmpcopyup %s: deeper than %d levels", path, COPY_MAX_DEPTH);
	DIR *d = fdopendir(src);
	FAIL_IF(!d, "tmpcopyup %s: opendir: %s", path, ERR);
	struct dirent *e;
	char sub[4096], link[4096];
	while ((errno = 0, e = readdir(d))) {
		const char *name = e->d_name;
		struct stat st;
		int rc = 0, in, out;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, name);
		FAIL_IF(fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0, "tmpcopyup %s: stat: %s", sub, ERR);
		if (S_ISDIR(st.st_mode)) {
			FAIL_IF(mkdirat(dst, name, 0700) < 0, "tmpcopyup %s: mkdir: %s", sub, ERR);
			in = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			out = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			FAIL_IF(in < 0 || out < 0, "tmpcopyup %s: open: %s", sub, ERR);
			copy_tree(in, out, sub, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			FAIL_IF(in < 0 || out < 0 || copy_bytes(in, out) < 0, "tmpcopyup %s: copy: %s", sub, ERR);
			close(in);
			close(out);
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(src, name, link, sizeof link - 1);
			FAIL_IF(n < 0, "tmpcopyup %s: readlink: %s", sub, ERR);
			link[n] = '\0';
			rc = symlinkat(link, dst, name);
		} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			rc = mknodat(dst, name, st.st_mode & (S_IFMT | 0600), st.st_rdev);
		} else {
			continue; /* a socket is bound to its owner: there is nothing to copy */
		}
		FAIL_IF(rc < 0, "tmpcopyup %s: create: %s", sub, ERR);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		FAIL_IF(fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
			(!S_ISLNK(st.st_mode) && fchmodat(dst, name, st.st_mode & 07777, 0) < 0) ||
			utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW) < 0, "tmpcopyup %s: owner, mode, times: %s", sub, ERR);
	}
	FAIL_IF(errno, "tmpcopyup %s: readdir: %s", path, ERR);
	closedir(d);
	close(dst);
}

void op_copy_up(const struct rec *r)
{
	const char *target = S(0), *root = S(1);
	int src = copyup_fd, dst;
	if (I(0) == 0) {
		close_if(copyup_fd);
		copyup_fd = open_in_root(root, target, O_RDONLY | O_DIRECTORY);
		FAIL_IF(copyup_fd < 0 && errno != ENOENT, "tmpcopyup %s: open: %s", target, ERR);
	} else if (src >= 0) {
		FAIL_IF((dst = open_in_root(root, target, O_RDONLY | O_DIRECTORY)) < 0, "tmpcopyup %s: open the new tmpfs: %s", target, ERR);
		copyup_fd = -1;
		copy_tree(src, dst, target, 0);
	}
}
