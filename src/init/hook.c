/*
 * tsrun-init: HOOK (37), the OCI hooks that run inside the container (createContainer before the
 * switch into the root, startContainer after the exec fifo was opened by `start`).
 *
 * The hook gets exactly the argv and env of its record, the text of a sync data slot (the state
 * JSON, which only the parent knows: it holds the host pid) on stdin, then EOF. Its stdout is read
 * and dropped, its stderr kept (the first STDERR_KEEP bytes) for the error message. A non-zero exit,
 * a signal, a failed execve or the timeout (the hook is SIGKILLed) fails the plan with a message that
 * names the hook ("/hooks/<kind>/<i>"). Waiting uses a pidfd and poll, so the timeout needs no timer
 * signal, and no fd of ours except the three pipes reaches the hook.
 */
#include "init.h"
#include <linux/sched.h> /* CLONE_PIDFD */

#define STDERR_KEEP 2048

long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Child side, between clone and execve: the pipes become 0, 1, 2; the execve error pipe fd 3
 * (close-on-exec, so the parent reads EOF when execve succeeds); every other fd is closed. */
static void exec_hook(int in, int out, int err, int errpipe, const char *path, char **argv, char **envp)
{
	/* Move everything above 10 first: a pipe may have got fd 0-3 when our stdio was closed. The
	 * copies are close-on-exec; dup2 gives 0-3 without the flag. */
	int fds[4] = {in, out, err, errpipe};
	for (int k = 0; k < 4; k++)
		if ((fds[k] = fcntl(fds[k], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(127);
	for (int k = 0; k < 4; k++)
		if (dup2(fds[k], k) < 0)
			_exit(127);
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	/* Once CLOEXEC_FROM ran, only the fds below its bound (--preserve-fds) are still inherited: close
	 * them one by one, since a startContainer hook runs under the container's filter, which may
	 * refuse close_range (runc's init never calls it). Before it (createContainer), close them all. */
	if (cloexec_bound) {
		for (unsigned int fd = 4; fd < cloexec_bound; fd++)
			close((int)fd);
	} else if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0) {
		_exit(127);
	}
	execve(path, argv, envp);
	int e = errno;
	ssize_t n = write(3, &e, sizeof e);
	(void)n;
	_exit(127);
}

/* Trim surrounding whitespace in place; newlines inside become spaces (fail() keeps one line). */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	FAIL_IF(fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0, "hook: fcntl: %s", ERR);
}

void op_hook(const struct rec *r)
{
	long long timeout_s = (long long)I(0);
	size_t argc = (size_t)I(1);
	const char *name = S(0), *path = S(1);
	const char *input = sync_data((unsigned)I(2));
	size_t nenv = r->nstr - 2 - argc;
	char **argv = str_list(r->strs + 2, argc), **envp = str_list(r->strs + 2 + argc, nenv);

	int inp[2], outp[2], errp[2], exe[2];
	if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(exe, O_CLOEXEC) < 0)
		fail(1, "%s: pipe: %s", name, ERR);
	/* A fork that also returns a pidfd (CLONE_PIDFD): under the container's filter (startContainer)
	 * pidfd_open may be refused, a plain clone without namespace flags is allowed by every profile
	 * that lets the container fork. Single threaded, so a raw fork-like clone is safe. */
	int pidfd = -1;
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
	FAIL_IF(pid < 0, "%s: clone: %s", name, ERR);
	if (pid == 0)
		exec_hook(inp[0], outp[1], errp[1], exe[1], path, argv, envp);
	close(inp[0]);
	close(outp[1]);
	close(errp[1]);
	close(exe[1]);
	free(argv);
	free(envp);
	/* A hook that exits without reading its stdin must give us EPIPE, not kill us. Set after the
	 * fork so that the hook itself starts with the default disposition. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old;
	sigaction(SIGPIPE, &ign, &old);

	set_nonblock(inp[1]);
	set_nonblock(outp[0]);
	set_nonblock(errp[0]);

	char errbuf[STDERR_KEEP + 1];
	size_t errlen = 0, inlen = strlen(input), inoff = 0;
	int in_fd = inp[1], out_fd = outp[0], err_fd = errp[0];
	if (inlen == 0) {
		close(in_fd);
		in_fd = -1;
	}
	long long deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : 0;
	int exited = 0, after_exit = 0;
	/* Until the hook exits: feed stdin, drain stdout and stderr. Once it has exited, what is left in
	 * the pipes is read without waiting (a background child of the hook may keep them open). */
	for (;;) {
		struct pollfd p[4] = {
			{.fd = pidfd, .events = POLLIN},
			{.fd = in_fd, .events = POLLOUT},
			{.fd = out_fd, .events = POLLIN},
			{.fd = err_fd, .events = POLLIN},
		};
		int wait_ms = -1;
		if (exited)
			wait_ms = 0;
		else if (deadline) {
			long long left = deadline - now_ms();
			wait_ms = left < 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
		}
		int n = poll(p, 4, wait_ms);
		if (n < 0 && errno == EINTR)
			continue;
		FAIL_IF(n < 0, "%s: poll: %s", name, ERR);
		if (p[1].revents) {
			ssize_t w = write(in_fd, input + inoff, inlen - inoff);
			if (w > 0)
				inoff += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || inoff == inlen) {
				close(in_fd); /* done, or EPIPE: the hook does not read its stdin */
				in_fd = -1;
			}
		}
		int drained = 1;
		for (int k = 2; k <= 3; k++) {
			if (!p[k].revents)
				continue;
			char buf[4096];
			ssize_t got = read(p[k].fd, buf, sizeof buf);
			if (got > 0) {
				drained = 0;
				if (k == 3 && errlen < STDERR_KEEP) {
					size_t take = (size_t)got < STDERR_KEEP - errlen ? (size_t)got : STDERR_KEEP - errlen;
					memcpy(errbuf + errlen, buf, take);
					errlen += take;
				}
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(p[k].fd);
				if (k == 2)
					out_fd = -1;
				else
					err_fd = -1;
			}
		}
		/* Once the hook has exited, a bounded drain: a process it left behind may keep writing. */
		if (exited && (drained || (out_fd < 0 && err_fd < 0) || ++after_exit > 256))
			break;
		if (p[0].revents)
			exited = 1;
		else if (!exited && deadline && now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail(1, "%s: %s did not finish within %lld s (killed)", name, path, timeout_s);
		}
	}
	close_if(in_fd);
	close_if(out_fd);
	close_if(err_fd);
	close(pidfd);
	sigaction(SIGPIPE, &old, NULL);

	int status;
	while (waitpid(pid, &status, 0) < 0)
		FAIL_IF(errno != EINTR, "%s: waitpid: %s", name, ERR);
	int exec_errno = 0;
	ssize_t got = read(exe[0], &exec_errno, sizeof exec_errno);
	close(exe[0]);
	errbuf[errlen] = '\0';
	char *msg = trim(errbuf);
	FAIL_IF(got == (ssize_t)sizeof exec_errno, "%s: cannot execute %s: %s", name, path, strerror(exec_errno));
	if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));
		fail(1, "%s: %s was killed by signal %d (SIG%s)%s%s", name, path, WTERMSIG(status), abbrev ? abbrev : "?",
		     *msg ? ": " : "", msg);
	}
	FAIL_IF(WEXITSTATUS(status) != 0,
		"%s: %s exited with status %d%s%s", name, path, WEXITSTATUS(status), *msg ? ": " : "", msg);
}
