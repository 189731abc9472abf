/*
 * tsrun-init: AF_UNIX helpers shared by the console socket (console.c) and the seccomp listener
 * (seccomp.c), which connect to a manager's socket on the host and hand it one fd, as runc does, and
 * by the fds passed between stage 0 and the child (bind_sources.c, the pty master for the relay).
 */
#include "init.h"
#include <sys/un.h>

int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/* The fd rides on the first sendmsg with the first bytes of the payload; the rest (a stream socket
 * may take a long payload in parts) follows without ancillary data. MSG_NOSIGNAL: a receiver that
 * went away is an EPIPE to report, not a SIGPIPE. */
int send_fd(int sock, int fd, const char *payload)
{
	size_t len = strlen(payload), off = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof ctl);
	struct iovec iov = {.iov_base = (void *)payload, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
		if (off >= len)
			return 0;
		iov.iov_base = (char *)payload + off;
		iov.iov_len = len - off;
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	}
}

/* One fd from one SCM_RIGHTS message (the rest of its payload, up to 256 bytes, dropped):
 * -1 with errno when recvmsg fails, -2 at EOF or for a message without exactly one fd. */
int recv_fd(int sock)
{
	char payload[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -2;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}
