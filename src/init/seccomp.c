/*
 * tsrun-init: SECCOMP (35) and SECCOMP_LISTENER (36). The filter was compiled in TypeScript
 * (src/security/seccomp/compile.ts); this file only loads it, and with SCMP_ACT_NOTIFY rules passes the
 * notify fd to the listener as runc does: one SCM_RIGHTS message whose payload is the container process
 * state (runtime-spec ContainerProcessState), which the parent sent in a sync data slot.
 */
#include "init.h"
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/un.h>

static int listener_fd = -1; /* SECCOMP_LISTENER -> SECCOMP */

void op_seccomp_listener(const struct rec *r)
{
	int fd = unix_connect(S(0));
	FAIL_IF(fd < 0, "seccomp listener %s: connect: %s", S(0), ERR);
	close_if(listener_fd);
	listener_fd = fd;
}

void seccomp_drop_listener(void)
{
	close_if(listener_fd);
	listener_fd = -1;
}

static void send_notify_fd(int notify_fd, const char *payload)
{
	FAIL_IF(send_fd(listener_fd, notify_fd, payload) < 0, "seccomp: send the notify fd to the listener: %s", ERR);
}

void op_seccomp(const struct rec *r)
{
	unsigned long flags = (unsigned long)I(0);
	uint64_t slot = I(1);
	size_t n = r->nint - 2;
	const char *payload = NULL;
	if (slot != UINT64_MAX) {
		payload = sync_data((unsigned)slot);
		FAIL_IF(listener_fd < 0, "bad plan: SECCOMP with a listener slot but no SECCOMP_LISTENER");
	}
	/* Static: nothing to free (and no allocator syscall) once the filter is loaded. op_check bounds n. */
	static struct sock_filter filter[BPF_MAXINSNS];
	for (size_t k = 0; k < n; k++) {
		uint64_t v = I(2 + k);
		filter[k].code = (uint16_t)v;
		filter[k].jt = (uint8_t)(v >> 16);
		filter[k].jf = (uint8_t)(v >> 24);
		filter[k].k = (uint32_t)(v >> 32);
	}
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = filter};
	/* Without no_new_privs the kernel wants CAP_SYS_ADMIN in our user namespace: the planner puts this
	 * record before the capabilities are dropped in that case. From here on every syscall is filtered,
	 * so only what must happen follows: with NEW_LISTENER, send the fd (sendmsg cannot be a NOTIFY rule)
	 * and close it. */
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	FAIL_IF(fd < 0, "seccomp(SECCOMP_SET_MODE_FILTER, flags 0x%lx, %zu instructions): %s", flags, n, ERR);
	if (payload) {
		send_notify_fd((int)fd, payload);
		close((int)fd);
		seccomp_drop_listener();
	}
}
