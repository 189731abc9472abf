/*
 * tsrun-init, outside the executor core: the terminal relay of a foreground stage 0 attached to the
 * caller's terminal (CONSOLE_PAIR, see src/launch/ops.ts). The child sent the pty master on the pair;
 * this copies between it and stage 0's own stdio until the child exits, then returns its status.
 */
#include "../init.h"
#include <sys/signalfd.h>
#include <termios.h>

/*
 * The end of piped input (stdin not a terminal) becomes the pty's end-of-file character, as a person
 * would type Ctrl-D, but only once the container has read everything before it (the check is a
 * slave of our own, opened only meanwhile, with nothing to read) and its output has been quiet for
 * EOF_QUIET_MS. One character is not enough: queued while the pty is canonical and then read by a
 * line editor that switched to raw mode, or typed while a shell runs a command that does not read,
 * it is consumed without effect. So it is sent again, whenever everything has been read and the
 * output is quiet, at growing intervals (up to EOF_MAX_INTERVAL_MS), until the process exits: with
 * no more input to come, a reader gets end-of-file each time it asks, which is what the end of a
 * pipe means. (util-linux script waits for the slave to be read the same way.)
 */
#define EOF_QUIET_MS 100
#define EOF_MAX_INTERVAL_MS 1000

enum { EOF_NONE, EOF_PENDING };

struct eof {
	int state;
	int peer;            /* our slave, while the state is EOF_PENDING */
	int interval;        /* ms between two sends, doubled each time; also the poll timeout */
	long long last_sent; /* when the last one was sent (0: never) */
};

static void eof_done(struct eof *e)
{
	if (e->peer >= 0)
		close(e->peer);
	e->peer = -1;
	e->state = EOF_NONE;
}

/* Whether to send the end-of-file character now (stored in *c). */
static int eof_due(struct eof *e, int master, long long last_out, char *c)
{
	struct termios t;
	if (e->peer < 0)
		e->peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (e->peer < 0 || tcgetattr(master, &t) < 0) {
		eof_done(e);
		return 0;
	}
	struct pollfd q = {.fd = e->peer, .events = POLLIN};
	if (poll(&q, 1, 0) != 0)
		return 0; /* still unread input */
	long long now = now_ms();
	if (now - last_out < EOF_QUIET_MS || (e->last_sent && now - e->last_sent < e->interval))
		return 0;
	if (e->last_sent && e->interval < EOF_MAX_INTERVAL_MS)
		e->interval *= 2;
	e->last_sent = now;
	*c = (char)t.c_cc[VEOF];
	return 1;
}

static int exit_status(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* The caller's window size (stdin's, else stdout's terminal) onto the pty; the kernel then sends
 * SIGWINCH to the pty's foreground process group. */
static void copy_winsize(int master)
{
	struct winsize ws;
	for (int fd = 0; fd < 2; fd++) {
		if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
			ioctl(master, TIOCSWINSZ, &ws); /* best effort: a size that does not pass is not fatal */
			return;
		}
	}
}

/* Write all of buf to stdout; once stdout is gone (EPIPE, ...) the output is dropped, so that the
 * container is never blocked on a full pty by a reader that left. */
static void write_out(int *ok, const char *buf, size_t len)
{
	while (*ok && len > 0) {
		ssize_t n = write(STDOUT_FILENO, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*ok = 0;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

int tty_relay(pid_t pid, int relay_fd)
{
	/* Signals first, so that neither a resize nor the child's exit between here and the poll is lost. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

	int master = recv_fd(relay_fd); /* < 0: the child died before it had a pty */
	int status;
	if (master < 0 || sfd < 0) {
		close(relay_fd); /* an EOF for a child waiting on it: it goes on without the relay */
		if (master >= 0)
			close(master);
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return 1;
		return exit_status(status);
	}

	/* Raw input on the caller's terminal: every key (Ctrl-C too) is a byte for the container's pty,
	 * whose own line discipline echoes, edits lines and sends signals inside the container. Output
	 * processing stays the caller's, and the pty does not add CRs of its own (as runc): the container's
	 * bytes reach a file or pipe on stdout unchanged, and a terminal there adds the CRs it always does. */
	struct termios saved, t;
	int raw = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (raw) {
		t = saved;
		cfmakeraw(&t);
		t.c_oflag = saved.c_oflag;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0)
			raw = 0;
	}
	if (tcgetattr(master, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)ONLCR;
		tcsetattr(master, TCSANOW, &t);
	}
	copy_winsize(master);
	/* The child waits for this before it goes on to execve (see op_pty). */
	(void)!write(relay_fd, "", 1);
	close(relay_fd);
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK); /* ours alone: stdin/stdout stay as they are */

	char in[4096], out[8192];
	size_t inlen = 0, inoff = 0;
	int in_open = 1, master_open = 1, out_ok = 1;
	struct eof eof = {.state = EOF_NONE, .peer = -1, .interval = EOF_QUIET_MS, .last_sent = 0};
	long long last_out = now_ms();
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno == ECHILD)) {
			if (w < 0)
				status = 1 << 8;
			break;
		}
		struct pollfd p[3];
		int n = 0, mp = -1, ip = -1;
		p[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		if (master_open) {
			mp = n;
			p[n++] = (struct pollfd){.fd = master, .events = POLLIN | (inlen ? POLLOUT : 0)};
		}
		if (in_open && !inlen) {
			ip = n;
			p[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
		}
		if (poll(p, (nfds_t)n, eof.state != EOF_NONE ? eof.interval : -1) < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot relay any more: still wait for the exit status. */
			while (waitpid(pid, &status, 0) < 0)
				if (errno != EINTR) {
					status = 1 << 8;
					break;
				}
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
				if (si.ssi_signo == SIGWINCH)
					copy_winsize(master);
			/* SIGCHLD: the waitpid at the top of the loop */
		}
		if (mp >= 0 && (p[mp].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t k = read(master, out, sizeof out);
			if (k > 0) {
				write_out(&out_ok, out, (size_t)k);
				last_out = now_ms();
			} else if (k == 0 || (errno != EINTR && errno != EAGAIN) || (p[mp].revents & POLLHUP))
				master_open = 0; /* EIO: no slave is open any more; wait for the exit alone */
		}
		if (mp >= 0 && master_open && inlen && (p[mp].revents & POLLOUT)) {
			ssize_t k = write(master, in + inoff, inlen);
			if (k > 0) {
				inoff += (size_t)k;
				inlen -= (size_t)k;
			} else if (k < 0 && errno != EINTR && errno != EAGAIN) {
				inlen = 0;
			}
		}
		if (!master_open)
			inlen = 0; /* nobody to read it */
		if (ip >= 0 && p[ip].revents) {
			ssize_t k = read(STDIN_FILENO, in, sizeof in);
			if (k > 0) {
				inoff = 0;
				inlen = (size_t)k;
			} else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
				in_open = 0;
				/* A terminal that hangs up is not an end of input typed by anyone. */
				if (!isatty(STDIN_FILENO))
					eof.state = EOF_PENDING;
			}
		}
		if (eof.state != EOF_NONE && !inlen) {
			if (!master_open)
				eof_done(&eof);
			else if (eof_due(&eof, master, last_out, &in[0])) {
				inoff = 0;
				inlen = 1;
			}
		}
	}
	eof_done(&eof);
	/* What the container wrote before it exited is still in the pty: pass it on. */
	while (master_open) {
		ssize_t k = read(master, out, sizeof out);
		if (k > 0)
			write_out(&out_ok, out, (size_t)k);
		else if (!(k < 0 && errno == EINTR))
			master_open = 0;
	}
	close(master);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
	return exit_status(status);
}
