/* DETACH_PSEUDO_FS (--no-pivot): a move + chroot leaves the host's mounts in the namespace, and while
 * a full procfs or sysfs is there, a new one may be mounted in a new user namespace (mount_too_revealing)
 * and show what linux.maskedPaths hide. As runc's msMoveRoot: detach them, or cover them with a tmpfs
 * where they are locked. Only now can they be known: mounts propagate into the child's until here. */
#include "init.h"
#include <sys/mount.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape(char *s)
{
	char *out = s;
	for (char *p = s; *p; p++)
		if (p[0] == '\\' && p[1] <= '3' && strspn(p + 1, "01234567") >= 3)
			*out++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0')), p += 3;
		else
			*out++ = *p;
	*out = '\0';
	return s;
}

void op_detach_pseudo_fs(const struct rec *r)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	FAIL_IF(!f, "--no-pivot: open /proc/self/mountinfo: %s", ERR);
	char *line = NULL, type[64], *root, *point, **points = NULL;
	size_t cap = 0, n = 0;
	while (getline(&line, &cap, f) > 0) { /* all read before the first detach: /proc may go */
		/* id parent major:minor root mountpoint options [optional fields...] - fstype source super */
		const char *sep = strstr(line, " - ");
		uint32_t i = sep && sscanf(sep, " - %63s", type) == 1 ? 1 : r->nstr;
		while (i < r->nstr && strcmp(S(i), type) != 0)
			i++;
		root = point = NULL;
		if (i < r->nstr && sscanf(line, "%*s %*s %*s %ms %ms", &root, &point) == 2 && strcmp(root, "/") == 0 &&
		    !path_in_root(S(0), unescape(point))) {
			FAIL_IF(!(points = realloc(points, (n + 1) * sizeof *points)), "--no-pivot: %s", ERR);
			points[n++] = point, point = NULL;
		}
		free(root);
		free(point);
	}
	FAIL_IF(ferror(f), "--no-pivot: read /proc/self/mountinfo: %s", ERR);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		/* rslave first: the unmount never propagates back to the host. ENOENT, EINVAL: already gone. */
		if (mount(NULL, points[i], NULL, MS_SLAVE | MS_REC, NULL) < 0) {
			FAIL_IF(errno != ENOENT && errno != EINVAL, "--no-pivot: make %s rslave: %s", points[i], ERR);
		} else if (umount2(points[i], MNT_DETACH) < 0) {
			FAIL_IF(errno != EINVAL && errno != EPERM, "--no-pivot: detach %s: %s", points[i], ERR);
			FAIL_IF(mount("tmpfs", points[i], "tmpfs", 0, NULL) < 0, "--no-pivot: cover %s with a tmpfs: %s", points[i], ERR);
		}
		free(points[i]);
	}
	free(points);
	free(line);
}
