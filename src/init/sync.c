/*
 * tsrun-init: the line protocol with the parent (src/init/launch.ts) on the sync fd, an AF_UNIX stream
 * socket: one text line per message, words and SYNC_SLOTS from src/launch/sync.ts. "pid <n>" from
 * stage 0 after CLONE; "sync <tag>", then the parent's "data <n> <text>" lines (kept for later
 * records: values only the parent knows once the child exists) and "go" (anything else, or EOF: the
 * parent gave up, _exit(1)); "ready" from READY, then the fd is closed; "error <msg>" for any failure
 * before. After READY, `start` waits on the exec fifo instead (report_fd once WAIT_FIFO opened it):
 * "0" from STARTED, or "1<msg>" for a failure.
 */
#include "init.h"
#include <stdarg.h>

int sync_fd = -1, report_fd = -1;
static char *slots[SYNC_SLOTS];

#define SYNC_LINE_MAX (1u << 20) /* a data line holds a state JSON with annotations: bounded, not small */

/* send(MSG_NOSIGNAL): a parent that went away is an EPIPE, not a SIGPIPE (write() for a non-socket). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, buf, len);
		if (n < 0 && errno != EINTR)
			return -1;
		buf += n > 0 ? n : 0;
		len -= n > 0 ? (size_t)n : 0;
	}
	return 0;
}

/* prefix + message + "\n" into out: one message is one line, so no newline may hide inside. */
static size_t vline(char *out, size_t size, const char *prefix, const char *fmt, va_list ap)
{
	size_t p = (size_t)snprintf(out, size, "%s", prefix);
	if (p < size)
		vsnprintf(out + p, size - p, fmt, ap);
	for (char *c = out; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	size_t len = strlen(out);
	len = len + 1 >= size ? size - 2 : len;
	memcpy(out + len, "\n", 2);
	return len + 1;
}

void sync_send(const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	size_t len = vline(line, sizeof line, "", fmt, ap);
	va_end(ap);
	if (sync_fd < 0 || write_all(sync_fd, line, len) < 0)
		_exit(1); /* the parent is gone: nobody to report to */
}

/* One line (without its newline), read a byte at a time so that nothing after it is consumed. EOF,
 * an error or an over-long line: the parent gave up, _exit(1) quietly. */
static char *read_line(void)
{
	size_t cap = 0, len = 0;
	char *line = NULL, c = 0;
	while (c != '\n') {
		if (len + 1 >= cap) {
			if (cap >= SYNC_LINE_MAX || !(line = realloc(line, cap = cap ? cap * 2 : 64)))
				_exit(1);
		}
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

void sync_close(void)
{
	close_if(sync_fd);
	sync_fd = -1;
}

void fail(int status, const char *fmt, ...)
{
	char line[4096];
	const char *prefix = sync_fd >= 0 ? SYNC_MSG_ERROR " " : "tsrun-init: ";
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	size_t len = vline(line, sizeof line, prefix, fmt, ap);
	va_end(ap);
	errno = saved;
	if (sync_fd >= 0) {
		write_all(sync_fd, line, len);
		_exit(1);
	}
	/* `start` waits on the exec fifo: "1" and the message (no prefix, no newline) say why the process
	 * will not run; it reports that (our stderr is the container's). */
	if (report_fd >= 0) {
		write_all(report_fd, FIFO_FAILED, 1);
		write_all(report_fd, line + strlen(prefix), len - strlen(prefix) - 1);
	} else {
		write_all(STDERR_FILENO, line, len);
	}
	_exit(status);
}
