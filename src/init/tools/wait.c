/*
 * tsrun-init, outside the executor core: the `wait <pid> <timeout_ms>` and `wait-input <pid> <ms>`
 * tool modes (src/init/launch.ts waitForExit, waitForInputOrExit). A pidfd polled with a timeout:
 * exit 0 exited (or no such process), 1 timeout, 2 error; wait-input also 3 when stdin is readable
 * or hung up.
 */
#include "tools.h"

/* wait: until pid exits. wait-input (input = 1): also until stdin is readable or hung up (exit 3), so a
 * caller waiting for a message on a pipe or fifo from a process learns at once of either. */
int mode_wait(const char *pidarg, const char *timeoutarg, int input)
{
	long long pid, timeout;
	if (parse_int(pidarg, 1, &pid) || pid > INT_MAX || parse_int(timeoutarg, -1, &timeout)) {
		fprintf(stderr, "tsrun-init: usage: tsrun-init wait <pid> <timeout_ms>\n");
		return 2;
	}
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0) {
		if (errno == ESRCH)
			return 0;
		fprintf(stderr, "tsrun-init: pidfd_open %lld: %s\n", pid, strerror(errno));
		return 2;
	}
	/* A pidfd polls readable once the process has exited (a zombie counts). */
	long long deadline = timeout < 0 ? 0 : now_ms() + timeout;
	for (;;) {
		long long left = -1;
		if (timeout >= 0) {
			left = deadline - now_ms();
			if (left < 0)
				left = 0;
			if (left > INT_MAX)
				left = INT_MAX;
		}
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
		int r = poll(p, input ? 2 : 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "tsrun-init: poll pidfd %lld: %s\n", pid, strerror(errno));
			return 2;
		}
		if (r > 0)
			return (p[0].revents & POLLIN) ? 0 : 3;
		if (timeout >= 0 && now_ms() >= deadline)
			return 1;
	}
}
