/* OVERLAY with the new mount API: mount(2) takes one page of options (100 layer paths do not fit),
 * "lowerdir+" (Linux >= 6.8) one layer per call; the fs context's log adds the kernel's error text.
 * Raw syscall(): glibc < 2.36 has no wrappers, and <sys/mount.h> clashes with <linux/mount.h>. */
#include "init.h"
#include <linux/mount.h>

/* Fail with errno and the fs context's log ("e|w|i <text>" per read()), joined by "; ". */
static void overlay_fail(int fsfd, const char *target, const char *what, const char *arg)
{
	int err = errno, w;
	char log[1024] = "", line[512];
	size_t used = 0;
	ssize_t n;
	while (fsfd >= 0 && (n = read(fsfd, line, sizeof line - 1)) > 0) {
		line[n - (line[n - 1] == '\n')] = '\0';
		w = snprintf(log + used, sizeof log - used, "%s%s", used ? "; " : "", line[0] && line[1] == ' ' ? line + 2 : line);
		if (w < 0 || (size_t)w >= sizeof log - used)
			break;
		used += (size_t)w;
	}
	fail(1, "overlay on %s: %s%s%s: %s%s%s%s", target, what, arg ? " " : "", arg ? arg : "", strerror(err),
	     log[0] ? " (kernel: " : "", log, log[0] ? ")" : "");
}

static void set(int fsfd, const char *target, unsigned int cmd, const char *key, const char *value)
{
	if (syscall(SYS_fsconfig, fsfd, cmd, key, value, 0) < 0)
		overlay_fail(fsfd, target, key, value);
}

void op_overlay(const struct rec *r)
{
	const char *target = S(0), *upper = S(1), *work = S(2);
	char what[2 * PATH_MAX + 64];
	int fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC), mfd, tfd;
	if (fsfd < 0)
		overlay_fail(-1, target, "fsopen", "overlay");
	for (uint32_t k = 3; k < r->nstr; k++) /* top-most first, the kernel's order */
		set(fsfd, target, FSCONFIG_SET_STRING, I(1) ? "lowerdir" : "lowerdir+", S(k));
	set(fsfd, target, FSCONFIG_SET_STRING, "upperdir", upper);
	set(fsfd, target, FSCONFIG_SET_STRING, "workdir", work);
	/* In a user namespace trusted.* xattrs cannot be written (EIO/EPERM): user.overlay.* instead. */
	if (I(0))
		set(fsfd, target, FSCONFIG_SET_FLAG, "userxattr", NULL);
	/* Some refusals (overlapping layers, in-use dirs) only reach dmesg: name the dirs here. */
	snprintf(what, sizeof what, "create (upperdir %s, workdir %s, %u lower dirs)", upper, work, r->nstr - 3);
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		overlay_fail(fsfd, target, what, NULL);
	if ((mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0)) < 0)
		overlay_fail(fsfd, target, "fsmount", NULL);
	close(fsfd);
	/* O_NOFOLLOW: a root dir swapped for a symlink after planning cannot redirect the mount. */
	if ((tfd = open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		overlay_fail(-1, target, "open target", NULL);
	if (syscall(SYS_move_mount, mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		overlay_fail(-1, target, "move_mount", NULL);
	close(tfd);
	close(mfd);
}
