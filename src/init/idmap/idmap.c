/*
 * tsrun-init, outside the executor core: idmapped bind mounts (mount uidMappings/gidMappings, the idmap
 * and ridmap options). The planner (src/fs/idmapped-mounts.ts) has chosen the mappings; here:
 *   IDMAP_SOURCE  stage 0, before CLONE: note that bind source `index` is idmapped.
 *   source_open   stage 0, from BIND_SOURCES' send (in the child's mount namespace, as host root): such a
 *                 source becomes open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_IDMAP) with a user
 *                 namespace made for the mapping; any other source is opened O_PATH. A failure SIGKILLs
 *                 the child first (the parent does not know its pid yet), then fails.
 *   IDMAP_MOUNT   the child: move_mount of that detached tree onto its target inside the root.
 * The clone is made in the namespace it is attached in (the container's, still a copy of the caller's at
 * that point), beside the plain sources. mount_setattr needs CAP_SYS_ADMIN over the source's superblock
 * (host root, not the container's root), which is why stage 0 does it.
 */
#include "idmap.h"

#define IDMAP_MAX 64

static struct idmap_source sources[IDMAP_MAX];
static size_t nsources;

void op_idmap_source(const struct rec *r)
{
	FAIL_IF(r->nstr < 3 || (I(1) == CLONE_OVERLAY) != (r->nstr >= 6), "bad plan: IDMAP_SOURCE needs 3 strings, 6 or more for an overlay");
	FAIL_IF(nsources == IDMAP_MAX, "%s: more than %d idmapped mounts", S(2), IDMAP_MAX);
	sources[nsources++] = (struct idmap_source){I(0), (int)I(1), (int)I(2), S(0), S(1), S(2), r->strs + 3, r->nstr - 3};
}

static int write_map(pid_t pid, const char *file, const char *text)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc = -1;
	if (fd >= 0) {
		rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
		close_keep_errno(fd);
	}
	return rc;
}

/* A user namespace with these maps: a child that only waits in it while we (host root) write its maps
 * and open it, then exits. -1 with errno and *step naming what failed. */
int userns_with(const char *uid_map, const char *gid_map, const char **step)
{
	int hold[2], fd = -1;
	char path[64], c;
	*step = "pipe";
	if (pipe2(hold, O_CLOEXEC) < 0)
		return -1;
	*step = "clone a user namespace";
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	if (pid > 0) {
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
		*step = "write uid_map";
		if (write_map(pid, "uid_map", uid_map) == 0 && (*step = "write gid_map", write_map(pid, "gid_map", gid_map) == 0))
			*step = "open the user namespace", fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	close_keep_errno(hold[1]);
	int e = errno;
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	errno = e;
	return fd;
}

/* The filesystem's name for a refusal (fstatfs magic; the rest by number). */
const char *fs_name(int fd, char *buf, size_t n)
{
	static const struct { unsigned long magic; const char *name; } names[] = {
		{EXT4_SUPER_MAGIC, "ext4"}, {XFS_SUPER_MAGIC, "xfs"}, {BTRFS_SUPER_MAGIC, "btrfs"}, {TMPFS_MAGIC, "tmpfs"},
		{OVERLAYFS_SUPER_MAGIC, "overlayfs"}, {PROC_SUPER_MAGIC, "proc"}, {SYSFS_MAGIC, "sysfs"}, {NFS_SUPER_MAGIC, "nfs"},
		{FUSE_SUPER_MAGIC, "fuse"}, {V9FS_MAGIC, "9p"}, {MSDOS_SUPER_MAGIC, "vfat"}, {SQUASHFS_MAGIC, "squashfs"},
		{CGROUP2_SUPER_MAGIC, "cgroup2"}, {DEVPTS_SUPER_MAGIC, "devpts"}, {0x5346544e, "ntfs"}, {0x2fc12fc1, "zfs"},
	};
	struct statfs st;
	if (fstatfs(fd, &st) < 0)
		return "an unknown filesystem";
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((unsigned long)st.f_type == names[i].magic)
			return snprintf(buf, n, "%s", names[i].name), buf;
	return snprintf(buf, n, "filesystem type 0x%lx", (unsigned long)st.f_type), buf;
}

static int idmapped_open(pid_t child, const struct idmap_source *s, const char *path)
{
	const char *step;
	char fs[64];
	int e, ns, tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (s->mode ? AT_RECURSIVE : 0));
	/* EINVAL for a plain bind: mounts under the source, locked to a user namespace, cannot be left out. */
	if (tree < 0)
		KILL_FAIL(child, "%s: idmapped bind of %s: open_tree (clone%s): %s%s", s->label, path, s->mode ? ", recursive" : "", ERR,
			  errno == ENOSYS ? " (idmapped mounts need Linux >= 5.12)"
			  : errno == EINVAL && !s->mode ? " (mounts under it are locked to the container's user namespace: use rbind)" : "");
	if ((ns = userns_with(s->uid_map, s->gid_map, &step)) < 0)
		KILL_FAIL(child, "%s: idmapped bind of %s: a user namespace for the mapping: %s: %s", s->label, path, step, ERR);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (s->idmap_rec ? AT_RECURSIVE : 0), &attr, sizeof attr) == 0)
		return close(ns), tree;
	/* EINVAL: the filesystem cannot be idmapped (recursive: one mount of the tree); EPERM: already
	 * idmapped, or a superblock of another user namespace; ENOSYS: no mount_setattr. */
	e = errno;
	KILL_FAIL(child, "%s: %s (%s) cannot be idmapped: mount_setattr(MOUNT_ATTR_IDMAP%s): %s%s", s->label, path,
		  fs_name(tree, fs, sizeof fs), s->idmap_rec ? ", recursive" : "", strerror(e),
		  e == ENOSYS ? " (idmapped mounts need Linux >= 5.12)"
		  : e == EINVAL || e == EPERM ? " (the kernel or this filesystem does not support idmapped mounts: tmpfs "
						"needs Linux >= 6.3; proc, sysfs and overlayfs have none)"
		  : "");
}

int source_open(pid_t child, size_t index, const char *path)
{
	for (size_t k = 0; k < nsources; k++)
		if (sources[k].index == index)
			return sources[k].mode == CLONE_OVERLAY ? idmapped_overlay(child, &sources[k]) : idmapped_open(child, &sources[k], path);
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		KILL_FAIL(child, "bind mount source %s: %s", path, ERR);
	return fd;
}

void op_idmap_mount(const struct rec *r)
{
	const char *target = S(0), *root = S(1), *what;
	int tree = bind_source_take(I(1));
	int fd = resolve_in_root(root, target, O_PATH, (int)I(0), &what);
	FAIL_IF(fd < 0, "idmapped mount on %s: %s %s in %s: %s", target, what, target, root, ERR);
	FAIL_IF(syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0,
		"idmapped mount on %s: move_mount: %s", target, ERR);
	close(fd);
	close(tree);
}
