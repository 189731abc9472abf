/*
 * tsrun-init: OVERLAY (op 31, see src/launch/ops.ts). Mounts an overlayfs of read-only layers with a
 * writable upper and work dir on the container's root directory, inside the container's own mount
 * namespace (so no host mount exists that a crash could leak).
 *
 * It uses the new mount API rather than mount(2): mount(2) takes all options in one page, which
 * caps the number of layers (100 absolute paths do not fit), while fsconfig "lowerdir+" (Linux >= 6.8)
 * adds one layer per call with no total limit. Kernels before 6.8 parse overlay options the legacy way
 * (an unknown key only fails at create): for them the planner sends one "lowerdir" value instead,
 * colon-joined and escaped, which fsconfig caps at 255 bytes. The fs context also keeps the kernel's own error text
 * (e.g. "overlay: failed to resolve '/x': -2"), which we read back so the message says what the
 * kernel disliked instead of a bare EINVAL.
 *
 * Raw syscall() on purpose: glibc 2.36 has wrappers, older ones do not, and <sys/mount.h> and
 * <linux/mount.h> disagree on some glibc versions; this file includes only the latter.
 */
#include "init.h"
#include <linux/mount.h>

/* The fs context's log: lines "e <text>", "w <text>" or "i <text>", one per read(); ENODATA when
 * empty. Collected into buf (at most len bytes), separated by "; ". */
static void context_log(int fsfd, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (;;) {
		char line[512];
		ssize_t n = read(fsfd, line, sizeof line - 1);
		if (n <= 0)
			break;
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		const char *text = (line[0] && line[1] == ' ') ? line + 2 : line;
		int w = snprintf(buf + used, len - used, "%s%s", used ? "; " : "", text);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

/* Report a failed step with errno and whatever the kernel logged in the fs context. Never returns. */
static void overlay_fail(int fsfd, const char *target, const char *what, const char *arg)
{
	int err = errno;
	char log[1024] = "";
	if (fsfd >= 0)
		context_log(fsfd, log, sizeof log);
	fail(1, "overlay on %s: %s%s%s: %s%s%s%s", target, what, arg ? " " : "", arg ? arg : "", strerror(err),
	     log[0] ? " (kernel: " : "", log, log[0] ? ")" : "");
}

static void set_string(int fsfd, const char *target, const char *key, const char *value)
{
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, value, 0) < 0)
		overlay_fail(fsfd, target, key, value);
}

/* ints: userxattr, joined · strs: target, upperdir, workdir, then the lower dirs TOP-MOST FIRST (the
 * kernel's order), or with joined = 1 exactly one string: all of them in overlayfs's "lowerdir" syntax. */
void op_overlay(const struct rec *r)
{
	/* Checked here rather than in ops.c's op_check: the table says "variable". */
	FAIL_IF(r->nstr < 4 || (r->ints[1] && r->nstr != 4),
		"OVERLAY: needs a target, upper, work and at least one lower dir (exactly one string when joined)");
	const char *target = r->strs[0], *upper = r->strs[1], *work = r->strs[2];

	int fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		overlay_fail(-1, target, "fsopen", "overlay");
	for (uint32_t k = 3; k < r->nstr; k++)
		set_string(fsfd, target, r->ints[1] ? "lowerdir" : "lowerdir+", r->strs[k]);
	set_string(fsfd, target, "upperdir", upper);
	set_string(fsfd, target, "workdir", work);
	/* In a user namespace overlayfs cannot write trusted.* xattrs (whiteouts of directories, opaque
	 * dirs, renames would fail with EIO/EPERM): keep them in user.overlay.* instead. */
	if (r->ints[0] && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		overlay_fail(fsfd, target, "userxattr", NULL);
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		/* Some refusals (overlapping layers, in-use dirs) only reach dmesg: name the dirs here. */
		char what[2 * PATH_MAX + 64];
		snprintf(what, sizeof what, "create (upperdir %s, workdir %s, %u lower dirs)", upper, work,
			 r->nstr - 3);
		overlay_fail(fsfd, target, what, NULL);
	}
	int mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		overlay_fail(fsfd, target, "fsmount", NULL);
	close(fsfd);

	/* The target is the realpath the planner resolved, opened without following a final symlink
	 * (a root dir swapped for a symlink after planning cannot redirect the mount). */
	int tfd = open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		overlay_fail(-1, target, "open target", NULL);
	if (syscall(SYS_move_mount, mfd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		overlay_fail(-1, target, "move_mount", NULL);
	close(tfd);
	close(mfd);
}
