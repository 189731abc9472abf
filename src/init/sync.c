/*
 * tsrun-init: the line protocol with the parent (src/init/launch.ts) on the sync fd.
 *
 * The sync fd is an AF_UNIX stream socket. Every message is one text line ending in "\n":
 *   stage 0 -> parent : "pid <n>"        host pid of the container init, right after CLONE
 *   child   -> parent : "sync <tag>"     then the child blocks until it reads a full line:
 *   parent  -> child  : "go"             continue; anything else, or EOF: the parent gave up, _exit(1)
 *   child   -> parent : "ready"          from READY, then the child closes the fd
 *   either  -> parent : "error <msg>"    any failure before READY, then _exit(1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "init.h"

int sync_fd = -1;

/* Write all of buf. send(MSG_NOSIGNAL) so that a parent that went away gives EPIPE, not SIGPIPE. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void vline(char *out, size_t size, const char *prefix, const char *fmt, va_list ap)
{
	size_t p = (size_t)snprintf(out, size, "%s", prefix);
	if (p < size)
		vsnprintf(out + p, size - p, fmt, ap);
	/* One message is one line: no newline may hide inside (paths can contain anything). */
	for (char *c = out; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	size_t len = strlen(out);
	if (len + 1 >= size)
		len = size - 2;
	out[len] = '\n';
	out[len + 1] = '\0';
}

void sync_send(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vline(line, sizeof line, "", fmt, ap);
	va_end(ap);
	if (sync_fd < 0 || write_all(sync_fd, line, strlen(line)) < 0)
		_exit(1); /* the parent is gone: nobody to report to */
}

void sync_wait_go(const char *tag)
{
	char line[64];
	size_t len = 0;

	sync_send("sync %s", tag);
	/* Read one byte at a time: never consume more than this one line. */
	for (;;) {
		char c;
		ssize_t n = read(sync_fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1); /* EOF or error: the parent gave up, quietly */
		if (c == '\n')
			break;
		if (len + 1 >= sizeof line)
			_exit(1);
		line[len++] = c;
	}
	line[len] = '\0';
	if (strcmp(line, "go") != 0)
		_exit(1);
}

void sync_close(void)
{
	if (sync_fd >= 0)
		close(sync_fd);
	sync_fd = -1;
}

void fail(int status, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	if (sync_fd >= 0) {
		vline(line, sizeof line, "error ", fmt, ap);
		va_end(ap);
		errno = saved;
		write_all(sync_fd, line, strlen(line));
		_exit(1);
	}
	vline(line, sizeof line, "tsrun-init: ", fmt, ap);
	va_end(ap);
	write_all(STDERR_FILENO, line, strlen(line));
	_exit(status);
}
