/* BIND_SOURCES: sources a new user namespace's root may not search (runc issue 2484), opened in the
 * child's mount namespace (mount(2) binds only the caller's mounts) and sent over a socketpair. The
 * copied host mounts are locked to that user namespace, and a bind keeps the locks. */
#include "init.h"

static char **paths; /* stage 0: the sources, in plan order */
static int *fds;     /* child: the received fds (-1 once used) */
static size_t count;
static int pair[2] = {-1, -1}; /* [0] stage 0 sends, [1] the child receives */

void op_bind_sources(const struct rec *r)
{
	FAIL_IF(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0, "bind sources: socketpair: %s", ERR);
	paths = r->strs;
	count = r->nstr;
}

/* Stage 0, the child at the gate: open every path in its mount namespace, send the fds. On failure
 * the child is killed first: the parent does not know its pid yet. */
#define KILL_FAIL_IF(cond, ...) \
	do { if (cond) { int e_ = errno; kill(child, SIGKILL); errno = e_; fail(1, __VA_ARGS__); } } while (0)
void bind_sources_send(pid_t child)
{
	if (pair[0] < 0)
		return;
	close(pair[1]);
	char ns[64];
	snprintf(ns, sizeof ns, "/proc/%d/ns/mnt", (int)child);
	int own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	int theirs = open(ns, O_RDONLY | O_CLOEXEC);
	KILL_FAIL_IF(own < 0 || theirs < 0 || setns(theirs, CLONE_NEWNS) < 0, "bind sources: join the container's mount namespace: %s", ERR);
	for (size_t i = 0; i < count; i++) {
		int fd = source_open(child, i, paths[i]); /* O_PATH, or an idmapped tree; on failure kills the child */
		KILL_FAIL_IF(send_fd(pair[0], fd, "s") < 0, "bind mount source %s: send: %s", paths[i], ERR);
		close(fd);
	}
	KILL_FAIL_IF(setns(own, CLONE_NEWNS) < 0, "bind sources: return to our mount namespace: %s", ERR);
	close(own), close(theirs), close(pair[0]);
}

void bind_sources_receive(void)
{
	if (pair[1] < 0)
		return;
	close(pair[0]);
	fds = calloc(count ? count : 1, sizeof *fds);
	FAIL_IF(!fds, "bind sources: %s", ERR);
	for (size_t i = 0; i < count; i++) {
		fds[i] = recv_fd(pair[1]);
		FAIL_IF(fds[i] < 0, "bind sources: received %zu of %zu: %s", i, count, fds[i] == -1 ? ERR : "no fd");
	}
	replace_fd(&pair[1], -1);
}

int bind_source_take(uint64_t index)
{
	FAIL_IF(!fds || index >= count || fds[index] < 0,
		"bad plan: bind source %llu was not received or is used twice", (unsigned long long)index);
	int fd = fds[index];
	fds[index] = -1;
	return fd;
}
