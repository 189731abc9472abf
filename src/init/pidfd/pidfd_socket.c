/*
 * tsrun-init, outside the executor core: --pidfd-socket (runc 1.2+). PIDFD_SOCKET connects in stage 0,
 * where the path is the caller's; PIDFD_SEND, in the container's process before its filter, sends a
 * pidfd of that process (pidfd_open of itself: right whatever its pid namespace, and no pid can be
 * reused under it) as one SCM_RIGHTS message, the shape runc sends and containerd reads.
 */
#include "../init.h"

static int pidfd_sock = -1; /* PIDFD_SOCKET -> PIDFD_SEND */

/* A foreground stage 0 lives as long as the process: its copy must not keep the manager's end open. */
void pidfd_socket_drop(void)
{
	replace_fd(&pidfd_sock, -1);
}

void op_pidfd_socket(const struct rec *r)
{
	int fd = unix_connect(S(0));
	FAIL_IF(fd < 0, "pidfd socket %s: connect: %s", S(0), ERR);
	replace_fd(&pidfd_sock, fd);
}

void op_pidfd_send(const struct rec *r)
{
	FAIL_IF(pidfd_sock < 0, "bad plan: PIDFD_SEND without PIDFD_SOCKET");
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	FAIL_IF(pidfd < 0, "pidfd socket: pidfd_open: %s", ERR);
	FAIL_IF(send_fd(pidfd_sock, pidfd, S(0)) < 0, "pidfd socket: send the pidfd: %s", ERR);
	close(pidfd);
	pidfd_socket_drop();
}
