/* tsrun-init's idmap/ (outside the executor core): shared between idmap.c and overlay.c. */
#ifndef TSRUN_INIT_IDMAP_H
#define TSRUN_INIT_IDMAP_H
#include "../init.h"
#include <linux/mount.h>

/* IDMAP_SOURCE's mode: the source cloned alone (bind), with its sub-mounts (rbind), or an overlay of
 * idmapped layers. */
enum { CLONE_BIND = 0, CLONE_RBIND = 1, CLONE_OVERLAY = 2 };

/* One IDMAP_SOURCE record. idmap_rec: ridmap (bind modes); for an overlay, 1 when the lower dirs go in one
 * "lowerdir" string (Linux < 6.8). extra: an overlay's upper, work, then its lower dirs top-most first. */
struct idmap_source {
	uint64_t index;
	int mode, idmap_rec;
	const char *uid_map, *gid_map, *label;
	char **extra;
	size_t nextra;
};

/* Fail, the child killed first (stage 0 at BIND_SOURCES' send: the parent does not know its pid yet). */
#define KILL_FAIL(child, ...) do { int e_ = errno; kill(child, SIGKILL); errno = e_; fail(1, __VA_ARGS__); } while (0)

int userns_with(const char *uid_map, const char *gid_map, const char **step);
const char *fs_name(int fd, char *buf, size_t n);
int idmapped_overlay(pid_t child, const struct idmap_source *s);

#endif
