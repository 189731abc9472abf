/* tsrun-init: HOOK, the OCI hooks run inside the container (createContainer, startContainer). */
#include "init.h"

#define STDERR_KEEP 2048

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Child: the pipes become 0-3 (3: the execve error), no other fd stays. Above 10 first: a pipe may be 0-3. */
static void exec_hook(int fds[4], const char *path, char **argv, char **envp)
{
	for (int k = 0; k < 4; k++)
		if ((fds[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(127);
	for (int k = 0; k < 4; k++) /* dup2, not dup3: the syscalls a startContainer hook made before */
		if (dup2(fds[k], k) < 0 || (k == 3 && fcntl(3, F_SETFD, FD_CLOEXEC) < 0))
			_exit(127);
	/* After CLOEXEC_FROM, one by one: the container's filter may refuse close_range (runc never calls it). */
	for (unsigned int fd = 4; fd < cloexec_bound; fd++)
		close((int)fd);
	if (!cloexec_bound && syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
		_exit(127);
	execve(path, argv, envp);
	(void)!write(3, &errno, sizeof errno);
	_exit(127);
}

void op_hook(const struct rec *r)
{
	long long timeout_s = (long long)I(0);
	size_t argc = (size_t)I(1), inlen;
	const char *name = S(0), *path = S(1), *input = sync_data((unsigned)I(2));
	int in[2], out[2], err[2], exe[2];
	FAIL_IF(pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(exe, O_CLOEXEC) < 0,
		"%s: pipe: %s", name, ERR);
	FAIL_IF(fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0, "hook: fcntl: %s", ERR);
	/* stdin written whole first, into a pipe large enough (one sync line < 1 MiB): nothing to poll. */
	inlen = strlen(input);
	FAIL_IF(fcntl(in[1], F_GETPIPE_SZ) < (int)inlen && fcntl(in[1], F_SETPIPE_SZ, (int)inlen) < 0, "%s: pipe: %s", name, ERR);
	FAIL_IF(write(in[1], input, inlen) != (ssize_t)inlen, "%s: write the hook's stdin: %s", name, ERR);
	close(in[1]);
	char **argv = str_list(r->strs + 2, argc), **envp = str_list(r->strs + 2 + argc, r->nstr - 2 - argc);
	/* A fork with a pidfd: the container's filter may refuse pidfd_open, not a clone that forks. */
	int pidfd = -1, fds[4] = {in[0], out[1], err[1], exe[1]};
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
	FAIL_IF(pid < 0, "%s: clone: %s", name, ERR);
	if (pid == 0)
		exec_hook(fds, path, argv, envp);
	for (int k = 0; k < 4; k++)
		close(fds[k]);
	free(argv);
	free(envp);
	/* Drain until the hook exits, then what is left, bounded: its orphans may keep the pipes open. */
	char errbuf[STDERR_KEEP + 1], buf[4096];
	size_t errlen = 0;
	long long deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : 0;
	struct pollfd p[3] = {{.fd = pidfd, .events = POLLIN}, {.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
	for (int exited = 0, rounds = 0;;) {
		long long left = deadline ? deadline - now_ms() : -1;
		if (!exited && deadline && left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail(1, "%s: %s did not finish within %lld s (killed)", name, path, timeout_s);
		}
		int n = poll(p, 3, exited ? 0 : left > INT_MAX ? INT_MAX : (int)left);
		FAIL_IF(n < 0 && errno != EINTR, "%s: poll: %s", name, ERR);
		if (n < 0)
			continue;
		int drained = 1;
		for (int k = 1; k <= 2; k++) {
			int keep = k == 2 && errlen < STDERR_KEEP;
			ssize_t got = p[k].revents ? read(p[k].fd, keep ? errbuf + errlen : buf, keep ? STDERR_KEEP - errlen : sizeof buf) : -1;
			if (got > 0) {
				drained = 0;
				errlen += keep ? (size_t)got : 0;
			} else if (p[k].revents && (got == 0 || (errno != EAGAIN && errno != EINTR))) {
				close(p[k].fd);
				p[k].fd = -1;
			}
		}
		if (exited && (drained || ++rounds > 256))
			break;
		if (p[0].revents)
			exited = 1, p[0].fd = -1; /* what is left is read without waiting */
	}
	close_if(p[1].fd);
	close_if(p[2].fd);
	close(pidfd);
	int status, exec_errno = 0;
	while (waitpid(pid, &status, 0) < 0)
		FAIL_IF(errno != EINTR, "%s: waitpid: %s", name, ERR);
	ssize_t got = read(exe[0], &exec_errno, sizeof exec_errno);
	close(exe[0]);
	errbuf[errlen] = '\0'; /* without the surrounding whitespace (fail() makes newlines inside spaces) */
	for (errlen = strlen(errbuf); errlen && strchr(" \n\t\r", errbuf[errlen - 1]);)
		errbuf[--errlen] = '\0';
	const char *msg = errbuf + strspn(errbuf, " \n\t\r");
	FAIL_IF(got == (ssize_t)sizeof exec_errno, "%s: cannot execute %s: %s", name, path, strerror(exec_errno));
	const char *abbrev = WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : NULL;
	FAIL_IF(WIFSIGNALED(status), "%s: %s was killed by signal %d (SIG%s)%s%s", name, path, WTERMSIG(status),
		abbrev ? abbrev : "?", *msg ? ": " : "", msg);
	FAIL_IF(WEXITSTATUS(status) != 0, "%s: %s exited with status %d%s%s", name, path, WEXITSTATUS(status), *msg ? ": " : "", msg);
}
