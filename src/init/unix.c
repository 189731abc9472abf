/* tsrun-init: AF_UNIX helpers: hand a manager's socket one fd; pass fds between stage 0 and the child. */
#include "init.h"
#include <sys/un.h>

int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return errno = ENAMETOOLONG, -1;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/* The fd rides on the first sendmsg; a stream socket may take the rest of the payload in parts. */
int send_fd(int sock, int fd, const char *payload)
{
	_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {0}; /* one SCM_RIGHTS message, one fd */
	struct iovec iov = {.iov_base = (void *)payload, .iov_len = strlen(payload)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	*c = (struct cmsghdr){.cmsg_len = CMSG_LEN(sizeof(int)), .cmsg_level = SOL_SOCKET, .cmsg_type = SCM_RIGHTS};
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	for (;;) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		iov.iov_base = (char *)iov.iov_base + n;
		if ((iov.iov_len -= (size_t)n) == 0)
			return 0;
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	}
}

int recv_fd(int sock)
{
	char payload[256];
	_Alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	ssize_t n;
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	int fd = n < 0 ? -1 : -2;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}
