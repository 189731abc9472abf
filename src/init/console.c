/* tsrun-init: terminals. The pty master goes to --console-socket (one SCM_RIGHTS message, as conmon
 * and runc's recvtty read it) or to a foreground stage 0 that relays it. No copy stays inside. */
#include "init.h"
#include <sys/mount.h>
#include <termios.h>

static int console_fd = -1; /* where PTY sends the master: the console socket, or the child's end of the pair */
static int relay_fd = -1;   /* stage 0's end of the pair (CONSOLE_PAIR) */
static int attached;        /* CONSOLE_PAIR: stage 0 relays the pty to the caller's terminal */

void op_console_socket(const struct rec *r)
{
	int fd = unix_connect(S(0));
	FAIL_IF(fd < 0, "console socket %s: connect: %s", S(0), ERR);
	replace_fd(&console_fd, fd);
}

void op_console_pair(const struct rec *r)
{
	(void)r;
	int sv[2];
	FAIL_IF(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0, "terminal socketpair: %s", ERR);
	relay_fd = sv[0];
	attached = 1;
	replace_fd(&console_fd, sv[1]);
}

void tty_after_clone(int child)
{
	replace_fd(child ? &relay_fd : &console_fd, -1);
}

int console_take_relay(void)
{
	int fd = relay_fd;
	relay_fd = -1;
	return fd;
}

/* /dev/console: the slave bound over a plain file. An image's node or symlink there is replaced first
 * (a bind onto a symlink follows it; a 5:1 node must not stay reachable under the bind). */
static void mount_console(int slave)
{
	const char *base;
	int dir = open_parent("/", "/dev/console", 0, &base), fd = -1;
	FAIL_IF(dir < 0, "/dev/console: open its directory: %s", ERR);
	struct stat st;
	int found = fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	FAIL_IF(!found && errno != ENOENT, "/dev/console: stat: %s", ERR);
	if (found && S_ISREG(st.st_mode))
		fd = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	else if (found)
		FAIL_IF(unlinkat(dir, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0, "/dev/console: remove the existing one: %s", ERR);
	if (fd < 0) {
		fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
		FAIL_IF(fd < 0, "/dev/console: create: %s", ERR);
		FAIL_IF(fchmod(fd, 0666) < 0, "/dev/console: chmod: %s", ERR); /* the umask applied to the create */
	}
	close(dir);
	char src[FD_PATH_SIZE], dst[FD_PATH_SIZE];
	FAIL_IF(mount(fd_path(src, slave), fd_path(dst, fd), NULL, MS_BIND, NULL) < 0, "bind the pty on /dev/console: %s", ERR);
	close(fd);
}

void op_pty(const struct rec *r)
{
	unsigned rows = (unsigned)I(0), cols = (unsigned)I(1);
	const char *ptmx = S(0);
	FAIL_IF(console_fd < 0, "bad plan: PTY without CONSOLE_SOCKET or CONSOLE_PAIR");
	/* In the root, no magic links, and on devpts: another fs's ptmx gives ptys of whatever devpts. */
	int master = open_in_root("/", ptmx, O_RDWR | O_NOCTTY), unlock = 0;
	FAIL_IF(master < 0, "open %s: %s", ptmx, ERR);
	struct statfs sfs;
	FAIL_IF(fstatfs(master, &sfs) < 0, "statfs %s: %s", ptmx, ERR);
	FAIL_IF(sfs.f_type != DEVPTS_SUPER_MAGIC, "%s is not on a devpts filesystem (mount devpts on /dev/pts)", ptmx);
	FAIL_IF(ioctl(master, TIOCSPTLCK, &unlock) < 0, "unlock the pty (TIOCSPTLCK): %s", ERR);
	/* The slave straight from the master: no path lookup in the container's /dev/pts. */
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	FAIL_IF(slave < 0, "open the pty slave (TIOCGPTPEER): %s", ERR);
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	FAIL_IF(rows && cols && ioctl(master, TIOCSWINSZ, &ws) < 0, "set the console size %ux%u (TIOCSWINSZ): %s", rows, cols, ERR);
	FAIL_IF(fchown(slave, (uid_t)I(2), (gid_t)-1) < 0, "chown the pty slave to %llu: %s", (unsigned long long)I(2), ERR);
	if (I(3))
		mount_console(slave);
	/* The slave first: once sent, the master may be closed, and a hung-up pty cannot be a ctty (EIO). */
	FAIL_IF(ioctl(slave, TIOCSCTTY, 0) < 0, "make the pty the controlling terminal (TIOCSCTTY): %s", ERR);
	for (int fd = 0; fd < 3; fd++)
		FAIL_IF(dup2(slave, fd) < 0, "dup2 the pty slave to fd %d: %s", fd, ERR);
	if (slave > 2)
		close(slave);
	FAIL_IF(send_fd(console_fd, master, S(1)) < 0, "send the pty master to the console socket: %s", ERR);
	close(master);
	/* Attached: wait until stage 0 has set the pty up (EOF: stage 0 is gone, go on). */
	char ack;
	while (attached && read(console_fd, &ack, 1) < 0 && errno == EINTR)
		;
	replace_fd(&console_fd, -1);
}
