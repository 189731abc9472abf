/*
 * tsrun-init, outside the executor core: what a foreground stage 0 does once CLONE has reported the
 * child's pid (CLONE's second int, see src/launch/ops.ts): close its copy of the pidfd socket, trim its
 * RSS for the long wait, relay the terminal when attached (tty_relay.c), otherwise wait for the child. Returns the exit code for the
 * child's status (128 + signal when it was killed).
 */
#include "../init.h"

void trim_rss(void);                     /* rss/trim.c */
int tty_relay(pid_t pid, int relay_fd); /* tty_relay.c */
void pidfd_socket_drop(void);            /* pidfd/pidfd_socket.c */

int stage0_wait(pid_t pid, int relay_fd)
{
	int status;
	pidfd_socket_drop();
	trim_rss();
	if (relay_fd >= 0)
		return tty_relay(pid, relay_fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fprintf(stderr, "tsrun-init: waitpid %ld: %s\n", (long)pid, ERR), _exit(1);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}
