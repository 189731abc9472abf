/*
 * Resolving paths inside the container's root without ever leaving it (the runc CVE-2021-30465 and
 * CVE-2025-31133 classes): openat2 with RESOLVE_IN_ROOT resolves "..", absolute symlinks and (with
 * RESOLVE_NO_MAGICLINKS refused) /proc magic links as if the root were "/".
 */
#include "init.h"

int openat2_in_root(int rootfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
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
	const char *rel = target + rl;
	while (*rel == '/')
		rel++;
	return rel;
}

int open_in_root(const char *root, const char *target, int flags)
{
	if (!*root)
		return open(target, flags | O_CLOEXEC);
	const char *rel = path_in_root(root, target);
	if (!rel) {
		errno = EXDEV;
		return -1;
	}
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -1;
	int fd = openat2_in_root(rootfd, rel, flags);
	close_keep_errno(rootfd);
	return fd;
}

int split_parent(const char *path, char *dir, size_t size, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash || !slash[1]) {
		errno = EINVAL;
		return -1;
	}
	*base = slash + 1;
	size_t n = (size_t)(slash - path);
	if (n + 2 > size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, n ? path : "/", n ? n : 1);
	dir[n ? n : 1] = '\0';
	return 0;
}

int open_parent_in_root(const char *root, const char *path, const char **base)
{
	char dir[4096];
	if (split_parent(path, dir, sizeof dir, base) < 0)
		return -1;
	return open_in_root(*root ? root : "/", dir, O_PATH | O_DIRECTORY);
}
