/*
 * tsrun-init: terminals. CONSOLE_SOCKET (39) and CONSOLE_PAIR (40) in stage 0, PTY (41) in the
 * child, and the relay a foreground stage 0 runs between the caller's terminal and the pty master.
 *
 * Two ways out for the master (semantics: src/plan/ops.ts):
 *   --console-socket  stage 0 connects to the manager's socket while it still sees the host's paths;
 *                     the child inherits the connection and sends the master there (conmon, the
 *                     containerd shim and runc's recvtty all read one SCM_RIGHTS message);
 *   attached          a socketpair made before CLONE: the child sends the master to stage 0, which
 *                     stays as the foreground waiter and copies between the master and its own stdio.
 * Either way no copy of the master stays in the container.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h> /* DEVPTS_SUPER_MAGIC */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

static int console_fd = -1; /* where PTY sends the master: the console socket, or the child's end of the pair */
static int relay_fd = -1;   /* stage 0's end of the pair (CONSOLE_PAIR) */
static int attached;         /* CONSOLE_PAIR: stage 0 relays the pty to the caller's terminal */

void op_console_socket(const struct rec *r)
{
	int fd = unix_connect(S(0));
	if (fd < 0)
		fail(1, "console socket %s: connect: %s", S(0), ERR);
	if (console_fd >= 0)
		close(console_fd);
	console_fd = fd;
}

void op_console_pair(const struct rec *r)
{
	(void)r;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail(1, "terminal socketpair: %s", ERR);
	relay_fd = sv[0];
	attached = 1;
	if (console_fd >= 0)
		close(console_fd);
	console_fd = sv[1];
}

void tty_after_clone(int child)
{
	/* Each side keeps only its own end: the child's end must close in stage 0, or stage 0 would never
	 * see EOF when the child dies before sending the master. */
	int *mine = child ? &relay_fd : &console_fd;
	if (*mine >= 0)
		close(*mine);
	*mine = -1;
}

/* /dev/console (config-linux.md "Default Devices"): the slave bound over a plain file, made inside the
 * current root. A node or symlink the image put there is replaced first: binding onto a symlink would
 * follow it, and an image's 5:1 node must not stay reachable under the bind. */
static void mount_console(int slave)
{
	const char *base;
	int dir = open_parent_in_root("/", "/dev/console", &base);
	if (dir < 0)
		fail(1, "/dev/console: open its directory: %s", ERR);
	struct stat st;
	int fd = -1;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISREG(st.st_mode))
			fd = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		else if (unlinkat(dir, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
			fail(1, "/dev/console: remove the existing one: %s", ERR);
	} else if (errno != ENOENT) {
		fail(1, "/dev/console: stat: %s", ERR);
	}
	if (fd < 0) {
		fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd < 0)
			fail(1, "/dev/console: create: %s", ERR);
		if (fchmod(fd, 0666) < 0) /* the umask applied to the create */
			fail(1, "/dev/console: chmod: %s", ERR);
	}
	close(dir);
	char src[64], dst[64];
	snprintf(src, sizeof src, "/proc/self/fd/%d", slave);
	snprintf(dst, sizeof dst, "/proc/self/fd/%d", fd);
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
		fail(1, "bind the pty on /dev/console: %s", ERR);
	close(fd);
}

/* One sendmsg, one SCM_RIGHTS fd, payload = the name runc sends with it (receivers ignore it). */
static void send_master(int sock, int master, const char *payload)
{
	if (send_fd(sock, master, payload) < 0)
		fail(1, "send the pty master to the console socket: %s", ERR);
}

void op_pty(const struct rec *r)
{
	unsigned rows = (unsigned)I(0), cols = (unsigned)I(1);
	const char *ptmx = S(0);
	if (console_fd < 0)
		fail(1, "bad plan: PTY without CONSOLE_SOCKET or CONSOLE_PAIR");
	/* Resolved inside the current root without magic links: an exec'd process joins a running container,
	 * whose processes may have changed its /dev since. */
	int master = open_in_root("/", ptmx, O_RDWR | O_NOCTTY);
	if (master < 0)
		fail(1, "open %s: %s", ptmx, ERR);
	/* The container's own devpts instance, not a ptmx node of some other filesystem (which would hand
	 * out ptys of whatever devpts its directory's pts/ holds). */
	struct statfs sfs;
	if (fstatfs(master, &sfs) < 0)
		fail(1, "statfs %s: %s", ptmx, ERR);
	if (sfs.f_type != DEVPTS_SUPER_MAGIC)
		fail(1, "%s is not on a devpts filesystem (mount devpts on /dev/pts)", ptmx);
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail(1, "unlock the pty (TIOCSPTLCK): %s", ERR);
	/* The slave straight from the master: no path lookup in the container's /dev/pts. */
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		fail(1, "open the pty slave (TIOCGPTPEER): %s", ERR);
	if (rows && cols) {
		struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
		if (ioctl(master, TIOCSWINSZ, &ws) < 0)
			fail(1, "set the console size %ux%u (TIOCSWINSZ): %s", rows, cols, ERR);
	}
	/* The process's user owns its terminal (as runc's fixStdioPermissions); the group stays devpts's. */
	if (fchown(slave, (uid_t)I(2), (gid_t)-1) < 0)
		fail(1, "chown the pty slave to %llu: %s", (unsigned long long)I(2), ERR);
	if (I(3))
		mount_console(slave);
	/* Everything on the slave side first: once the master is sent, the receiver may close it, and a
	 * hung-up pty can no longer become a controlling terminal (EIO). */
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail(1, "make the pty the controlling terminal (TIOCSCTTY): %s", ERR);
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			fail(1, "dup2 the pty slave to fd %d: %s", fd, ERR);
	if (slave > 2)
		close(slave);
	send_master(console_fd, master, S(1));
	close(master);
	/* Attached: wait until stage 0 has set the pty up (no CRs of its own, the caller's window size), so
	 * the process never writes or reads the size before (an EOF: stage 0 is gone, go on; it is the exec
	 * that matters, and a dead stage 0 kills nothing here). */
	if (attached) {
		char ack;
		while (read(console_fd, &ack, 1) < 0 && errno == EINTR)
			;
	}
	close(console_fd);
	console_fd = -1;
}

/* ---- stage 0: the relay -------------------------------------------------------------------- */

int tty_relaying(void)
{
	return relay_fd >= 0;
}

static int recv_master(int sock)
{
	char payload[256];
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof u.buf;
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1; /* the child died before it had a pty */
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

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

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

int tty_relay(pid_t pid)
{
	/* Signals first, so that neither a resize nor the child's exit between here and the poll is lost. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

	int master = recv_master(relay_fd);
	int status;
	if (master < 0 || sfd < 0) {
		close(relay_fd); /* an EOF for a child waiting on it: it goes on without the relay */
		relay_fd = -1;
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
	relay_fd = -1;
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
