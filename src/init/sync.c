/* tsrun-init: the sync fd's line protocol (src/launch/sync.ts); after READY, failures go to report_fd. */
#include "init.h"
#include <stdarg.h>

int sync_fd = -1, report_fd = -1;
static char *slots[SYNC_SLOTS];

#define SYNC_LINE_MAX (1u << 20) /* a data line holds a state JSON with annotations: bounded, not small */

/* One message is one line (no newline inside, at most 4 KiB). MSG_NOSIGNAL: EPIPE, not SIGPIPE. */
static int send_line(int fd, const char *prefix, const char *text, int newline)
{
	char line[4096];
	snprintf(line, sizeof line - 1, "%s%s", prefix, text);
	for (char *c = line; *c; c++)
		*c = *c == '\n' || *c == '\r' ? ' ' : *c;
	size_t len = strlen(line), off = 0;
	if (newline)
		line[len++] = '\n';
	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, line + off, len - off);
		if (n < 0 && errno != EINTR)
			return -1;
		off += n > 0 ? (size_t)n : 0;
	}
	return 0;
}

void sync_send(const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (sync_fd < 0 || send_line(sync_fd, "", text, 1) < 0)
		_exit(1); /* the parent is gone: nobody to report to */
}

/* A byte at a time: nothing after the line is consumed. EOF, an error, too long: _exit(1) quietly. */
static char *read_line(void)
{
	size_t cap = 0, len = 0;
	char *line = NULL, c = 0;
	while (c != '\n') {
		if (len + 1 >= cap && (cap >= SYNC_LINE_MAX || !(line = realloc(line, cap = cap ? cap * 2 : 64))))
			_exit(1);
		ssize_t n = read(sync_fd, &c, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(1);
		if (n > 0)
			line[len++] = c;
	}
	line[len - 1] = '\0';
	return line;
}

void sync_wait_go(const char *tag)
{
	sync_send(SYNC_MSG_SYNC " %s", tag);
	const size_t w = strlen(SYNC_MSG_DATA " ");
	for (char *line; strcmp(line = read_line(), SYNC_MSG_GO) != 0; free(line)) {
		char *end; /* "data <n> <text>" */
		if (strncmp(line, SYNC_MSG_DATA " ", w) != 0)
			_exit(1);
		unsigned long n = strtoul(line + w, &end, 10);
		if (end == line + w || *end != ' ' || n >= SYNC_SLOTS)
			_exit(1);
		free(slots[n]);
		if (!(slots[n] = strdup(end + 1)))
			_exit(1);
	}
}

const char *sync_data(unsigned slot)
{
	FAIL_IF(slot >= SYNC_SLOTS || !slots[slot], "bad plan: no data in sync slot %u", slot);
	return slots[slot];
}

void fail(int status, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (sync_fd >= 0) {
		send_line(sync_fd, SYNC_MSG_ERROR " ", msg, 1);
		_exit(1);
	}
	/* `start` reports "1<message>" from the exec fifo (our stderr is the container's). */
	if (report_fd >= 0)
		send_line(report_fd, FIFO_FAILED, msg, 0);
	else
		send_line(STDERR_FILENO, "tsrun-init: ", msg, 1);
	_exit(status);
}
