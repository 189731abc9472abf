/* Paths resolved inside the container's root (runc CVE-2021-30465, CVE-2025-31133): RESOLVE_IN_ROOT
 * takes ".." and absolute symlinks as if the root were "/"; magic links are refused. */
#include "init.h"

int openat2_in_root(int rootfd, const char *rel, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof how);
	while (fd < 0 && (errno == EAGAIN || errno == EINTR));
	return fd;
}

const char *path_in_root(const char *root, const char *target)
{
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (strncmp(target, root, rl) != 0 || (rl > 1 && target[rl] != '/' && target[rl] != '\0'))
		return NULL;
	return target + rl + strspn(target + rl, "/");
}

/* Each missing component is made in its parent's O_PATH fd, then the prefix resolved again from root. */
int resolve_in_root(const char *root, const char *target, int flags, int create, const char **what)
{
	*what = "resolve";
	if (!*root)
		return open(target, flags | O_CLOEXEC);
	const char *rel = path_in_root(root, target);
	char prefix[PATH_MAX];
	if (!rel || strlen(rel) >= sizeof prefix)
		return *what = rel ? "resolve" : "target outside root", errno = rel ? ENAMETOOLONG : EXDEV, -1;
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, parent = -1;
	if (rootfd < 0)
		return *what = "open root", -1;
	if ((fd = openat2_in_root(rootfd, rel, flags)) < 0 && errno == ENOENT && create)
		parent = openat2_in_root(rootfd, "", O_PATH);
	for (size_t pos = 0, start; parent >= 0;) {
		start = pos + strspn(rel + pos, "/");
		pos = start + strcspn(rel + start, "/");
		int last = rel[pos + strspn(rel + pos, "/")] == '\0', file = last && create == 2;
		memcpy(prefix, rel, pos);
		prefix[pos] = '\0';
		fd = openat2_in_root(rootfd, prefix, last ? flags : O_PATH);
		if (fd < 0 && errno == ENOENT) {
			*what = file ? "create file" : "mkdir"; /* mknod of S_IFREG is open(O_CREAT|O_EXCL), no fd */
			int rc = file ? mknodat(parent, prefix + start, S_IFREG | 0644, 0) : mkdirat(parent, prefix + start, 0755);
			if (rc >= 0 || errno == EEXIST) {
				*what = "resolve";
				fd = openat2_in_root(rootfd, prefix, last ? flags : O_PATH);
			}
		}
		close_keep_errno(parent);
		parent = last ? -1 : fd;
	}
	close_keep_errno(rootfd);
	return fd;
}

int open_in_root(const char *root, const char *target, int flags)
{
	const char *what;
	return resolve_in_root(root, target, flags, 0, &what);
}

int open_parent(const char *root, const char *path, int create, const char **base)
{
	char dir[PATH_MAX];
	const char *what, *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	if (!slash || !slash[1] || n + 2 > sizeof dir)
		return errno = !slash || !slash[1] ? EINVAL : ENAMETOOLONG, -1;
	*base = slash + 1;
	snprintf(dir, sizeof dir, "%.*s", n ? (int)n : 1, n ? path : "/");
	/* Without O_DIRECTORY when creating, as MKNOD always had it: a file there fails at mknodat. */
	return resolve_in_root(*root ? root : "/", dir, O_PATH | (create ? 0 : O_DIRECTORY), create, &what);
}

const char *fd_path(char *buf, int fd)
{
	snprintf(buf, FD_PATH_SIZE, "/proc/self/fd/%d", fd);
	return buf;
}
