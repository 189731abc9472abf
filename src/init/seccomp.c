/* tsrun-init: SECCOMP_LISTENER and SECCOMP; a notify fd goes to the listener as runc sends it. */
#include "init.h"
#include <linux/filter.h>
#include <linux/seccomp.h>

static int listener_fd = -1; /* SECCOMP_LISTENER -> SECCOMP */

void seccomp_drop_listener(void)
{
	replace_fd(&listener_fd, -1);
}

void op_seccomp_listener(const struct rec *r)
{
	int fd = unix_connect(S(0));
	FAIL_IF(fd < 0, "seccomp listener %s: connect: %s", S(0), ERR);
	replace_fd(&listener_fd, fd);
}

void op_seccomp(const struct rec *r)
{
	unsigned long flags = (unsigned long)I(0);
	size_t n = r->nint - 2;
	const char *payload = I(1) == UINT64_MAX ? NULL : sync_data((unsigned)I(1));
	FAIL_IF(payload && listener_fd < 0, "bad plan: SECCOMP with a listener slot but no SECCOMP_LISTENER");
	/* Static: nothing to free (and no allocator syscall) once the filter is loaded. op_check bounds n. */
	static struct sock_filter filter[BPF_MAXINSNS];
	for (size_t k = 0; k < n; k++)
		filter[k] = (struct sock_filter){(uint16_t)I(2 + k), (uint8_t)(I(2 + k) >> 16), (uint8_t)(I(2 + k) >> 24), (uint32_t)(I(2 + k) >> 32)};
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = filter};
	/* From here on every syscall is filtered: only sending the fd follows (sendmsg cannot be NOTIFY). */
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
	FAIL_IF(fd < 0, "seccomp(SECCOMP_SET_MODE_FILTER, flags 0x%lx, %zu instructions): %s", flags, n, ERR);
	if (payload) {
		FAIL_IF(send_fd(listener_fd, (int)fd, payload) < 0, "seccomp: send the notify fd to the listener: %s", ERR);
		close((int)fd);
		seccomp_drop_listener();
	}
}
