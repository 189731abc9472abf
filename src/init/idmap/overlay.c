/*
 * tsrun-init, outside the executor core: the overlay root of `tsrun.idmapLayers` (IDMAP_SOURCE mode
 * CLONE_OVERLAY). Stage 0, as host root in the container's mount namespace (from BIND_SOURCES' send): each
 * lower dir is cloned (open_tree) and idmapped with the container's user namespace mappings, the overlay is
 * made of those detached trees (/proc/self/fd/N as lower dirs, Linux >= 5.19) with the upper and work dirs,
 * and its fsmount fd goes to the child like a bind source; IDMAP_MOUNT attaches it on the rootfs. Made by
 * host root, so overlayfs keeps its metadata in trusted.* xattrs and copies up as host root, as it does for
 * a container without a user namespace; the container's root sees the layers' root-owned files as its own.
 */
#include "idmap.h"

/* The fs context's log ("e <text>" per read), joined by "; ". */
static const char *fs_log(int fsfd, char *buf, size_t size)
{
	char line[512];
	size_t used = 0;
	ssize_t n;
	buf[0] = '\0';
	while ((n = read(fsfd, line, sizeof line - 1)) > 0 && used + 4 < size) {
		line[n - (line[n - 1] == '\n')] = '\0';
		int w = snprintf(buf + used, size - used, "%s%s", used ? "; " : "", line[0] && line[1] == ' ' ? line + 2 : line);
		used += w > 0 ? (size_t)w : 0;
	}
	return buf;
}

/* Fail with errno, what and arg, and the kernel's log; the child killed first. */
__attribute__((noreturn)) static void ovl_fail(pid_t child, const struct idmap_source *s, int fsfd, const char *what, const char *arg)
{
	int e = errno;
	char log[1024];
	fs_log(fsfd, log, sizeof log);
	errno = e;
	KILL_FAIL(child, "%s: overlay of idmapped layers: %s%s%s: %s%s%s%s", s->label, what, arg ? " " : "", arg ? arg : "", ERR,
		  log[0] ? " (kernel: " : "", log, log[0] ? ")" : "");
}
#define OVL_FAIL(what, arg) ovl_fail(child, s, fsfd, what, arg)

int idmapped_overlay(pid_t child, const struct idmap_source *s)
{
	const char *step, *upper = s->extra[0], *work = s->extra[1];
	size_t n = s->nextra - 2, used = 0;
	char fs[64], joined[4096] = "", p[FD_PATH_SIZE];
	int ns = userns_with(s->uid_map, s->gid_map, &step), mfd, fsfd = -1;
	int *layers = calloc(n, sizeof *layers);
	if (ns < 0 || !layers)
		KILL_FAIL(child, "%s: overlay of idmapped layers: a user namespace for the mapping: %s: %s", s->label, layers ? step : "calloc", ERR);
	if ((fsfd = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)) < 0)
		OVL_FAIL("fsopen", "overlay");
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
	for (size_t k = 0; k < n; k++) {
		const char *layer = s->extra[2 + k];
		if ((layers[k] = (int)syscall(SYS_open_tree, AT_FDCWD, layer, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) < 0)
			KILL_FAIL(child, "%s: layer %s: open_tree (clone): %s", s->label, layer, ERR);
		if (syscall(SYS_mount_setattr, layers[k], "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
			KILL_FAIL(child, "%s: layer %s (%s) cannot be idmapped: mount_setattr(MOUNT_ATTR_IDMAP): %s", s->label, layer,
				  fs_name(layers[k], fs, sizeof fs), ERR);
		fd_path(p, layers[k]);
		if (!s->idmap_rec && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "lowerdir+", p, 0) < 0)
			OVL_FAIL("lowerdir+", layer);
		int w = s->idmap_rec ? snprintf(joined + used, sizeof joined - used, "%s%s", k ? ":" : "", p) : 0;
		if (w < 0 || (size_t)w >= sizeof joined - used)
			KILL_FAIL(child, "%s: overlay of idmapped layers: %zu layers do not fit in one lowerdir option", s->label, n);
		used += (size_t)w;
	}
	if (s->idmap_rec && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "lowerdir", joined, 0) < 0)
		OVL_FAIL("lowerdir", joined);
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0)
		OVL_FAIL("upperdir", upper);
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "workdir", work, 0) < 0)
		OVL_FAIL("workdir", work);
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		OVL_FAIL("create", NULL);
	if ((mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0)) < 0)
		OVL_FAIL("fsmount", NULL);
	/* The overlay holds its own clones of the layers: ours go. */
	for (size_t k = 0; k < n; k++)
		close(layers[k]);
	free(layers);
	close(fsfd), close(ns);
	return mfd;
}
