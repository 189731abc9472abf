/*
 * tsrun-init, outside the executor core: ops PROCFS_OPEN, PROCFS_WRITE, PROCFS_CLOSE, FIFO_CHECK. Every
 * write under /proc (LSM labels, sysctl, oom_score_adj, timens_offsets) goes through one procfs handle, so that
 * nothing the container controls (its image's /proc, its config mounts, a mount namespace it joined)
 * can send the write to another file: the class of CVE-2019-19921 and CVE-2025-52881. The plan opens
 * the handle in stage 0, before any namespace is joined and before the container has a single mount,
 * and closes it after the last write (the waiting init holds no host fd).
 */
#include "../init.h"
#include <linux/mount.h>

#define PROC_ROOT_INO 1 /* the root directory of every procfs instance (fs/proc/root.c) */

static int proc_fd = -1;

/* A private procfs instance (fsopen + fsmount): a detached mount with no mount on it and no path to it,
 * so no one can cover or swap any of its files. Needs CAP_SYS_ADMIN: -1 for a caller without host root. */
static int private_procfs(void)
{
	int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC), mnt = -1;
	if (fs < 0)
		return -1;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	close(fs);
	return mnt;
}

void op_procfs_open(const struct rec *r)
{
	(void)r;
	const char *what = "a private procfs (fsopen)";
	int fd = private_procfs();
	if (fd < 0) { /* the caller's own /proc: stage 0 has joined nothing yet */
		what = "/proc";
		fd = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	FAIL_IF(fd < 0, "procfs handle: open /proc: %s", ERR);
	struct statfs sf;
	struct statx sx;
	FAIL_IF(fstatfs(fd, &sf) < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_INO, &sx) < 0, "procfs handle: stat %s: %s", what, ERR);
	FAIL_IF(sf.f_type != PROC_SUPER_MAGIC, "procfs handle: %s is not a procfs (filesystem type 0x%lx)", what, (unsigned long)sf.f_type);
	/* A procfs root that is the root of its mount: not a bind of one of its directories (whose files
	 * have other names), nor a mount point with something bound below (RESOLVE_NO_XDEV then refuses). */
	FAIL_IF(sx.stx_ino != PROC_ROOT_INO || !(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT),
		"procfs handle: %s is not the root of a procfs mount", what);
	replace_fd(&proc_fd, fd);
}

void op_procfs_write(const struct rec *r)
{
	const char *path = S(0), *value = S(1), *field = S(2), *hint = S(3);
	FAIL_IF(proc_fd < 0, "%s: bad plan: PROCFS_WRITE with no PROCFS_OPEN before it", field);
	/* BENEATH: no "..", no absolute symlink; NO_MAGICLINKS: no /proc/<pid>/fd/N, cwd, root or exe jump;
	 * NO_XDEV: no mount crossed. Plain symlinks stay allowed: "self" is one (to "<pid>", in the handle's
	 * pid namespace, where this process is always visible: it is the caller's or an ancestor of ours). */
	struct open_how how = {.flags = O_WRONLY | O_NOCTTY | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	int fd;
	while ((fd = (int)syscall(SYS_openat2, proc_fd, path, &how, sizeof how)) < 0 && (errno == EAGAIN || errno == EINTR))
		;
	FAIL_IF(fd < 0, "%s: open /proc/%s: %s", field, path, ERR);
	struct statfs sf;
	FAIL_IF(fstatfs(fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC, "%s: /proc/%s is not a procfs file", field, path);
	/* One write(): timens_offsets and the like take everything at once. A value of several lines
	 * (timens_offsets) is left out of the message, which stays one line. */
	size_t len = strlen(value);
	const char *shown = strchr(value, '\n') ? "" : value;
	ssize_t n = write(fd, value, len);
	FAIL_IF(n < 0, "%s: write %s%sto /proc/%s: %s%s", field, shown, *shown ? " " : "", path, ERR, errno == EACCES || errno == EPERM ? hint : "");
	FAIL_IF((size_t)n != len, "%s: write /proc/%s: short write (%zd of %zu bytes)", field, path, n, len);
	close(fd);
}

/* WAIT_FIFO reopens the exec fifo by /proc/self/fd/N in the container's /proc: it blocks until `start`, so it
 * cannot use the handle (the waiting init would hold it), and it runs under the filter (no stat then). So
 * before the filter, as the last thing before the process settings, that path must lead to the fifo itself:
 * an image whose /proc/self/fd leads elsewhere fails here instead of having "0" written there at `start`. */
void op_fifo_check(const struct rec *r)
{
	(void)r;
	char at[FD_PATH_SIZE];
	struct stat want, got;
	int fd = exec_fifo_fd();
	FAIL_IF(fd < 0, "bad plan: FIFO_CHECK with no OPEN_FIFO before it");
	errno = 0; /* a mismatch sets none */
	FAIL_IF(fstat(fd, &want) < 0 || stat(fd_path(at, fd), &got) < 0 || want.st_dev != got.st_dev || want.st_ino != got.st_ino,
		"exec fifo: %s in the container does not lead to it (is /proc a procfs?)%s%s", at, errno ? ": " : "", errno ? ERR : "");
}

void op_procfs_close(const struct rec *r)
{
	(void)r;
	replace_fd(&proc_fd, -1);
}
