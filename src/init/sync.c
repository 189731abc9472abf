/*
 * tsrun-init: the line protocol with the parent (src/init/launch.ts) on the sync fd, an AF_UNIX stream
 * socket: one text line per message, words and SYNC_SLOTS as src/launch/sync.ts defines them (the
 * generated contract.h). "pid <n>" from stage 0 after CLONE; "sync <tag>", then the parent's
 * "data <n> <text>" lines (kept for later records: values only the parent knows once the child
 * exists) and "go" (anything else, or EOF: the parent gave up, _exit(1)); "ready" from READY, then
 * the fd is closed; "error <msg>" for any failure before. After READY, `start` waits on the exec
 * fifo instead (report_fd once WAIT_FIFO opened it): "0" from STARTED, or "1<msg>" for a failure.
 */
#include "init.h"
#include <stdarg.h>

int sync_fd = -1;
int report_fd = -1;
static char *slots[SYNC_SLOTS];

#define SYNC_LINE_MAX (1u << 20) /* a data line holds a state JSON with annotations: bounded, not small */

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

/* Read one line (without its newline) into a malloc'd buffer, one byte at a time so that nothing
 * after it is consumed. EOF, an error or an over-long line: the parent gave up, _exit(1) quietly. */
static char *read_line(void)
{
	size_t cap = 64, len = 0;
	char *line = malloc(cap);
	if (!line)
		_exit(1);
	for (;;) {
		char c;
		ssize_t n = read(sync_fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1);
		if (c == '\n')
			break;
		if (len + 1 >= cap) {
			if (cap >= SYNC_LINE_MAX)
				_exit(1);
			cap *= 2;
			char *nl = realloc(line, cap);
			if (!nl)
				_exit(1);
			line = nl;
		}
		line[len++] = c;
	}
	line[len] = '\0';
	return line;
}

void sync_wait_go(const char *tag)
{
	sync_send(SYNC_MSG_SYNC " %s", tag);
	for (;;) {
		char *line = read_line();
		if (strcmp(line, SYNC_MSG_GO) == 0) {
			free(line);
			return;
		}
		/* "data <n> <text>" */
		char *end;
		size_t w = strlen(SYNC_MSG_DATA " ");
		if (strncmp(line, SYNC_MSG_DATA " ", w) != 0)
			_exit(1);
		unsigned long n = strtoul(line + w, &end, 10);
		if (end == line + w || *end != ' ' || n >= SYNC_SLOTS)
			_exit(1);
		free(slots[n]);
		slots[n] = strdup(end + 1);
		free(line);
		if (!slots[n])
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
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	if (sync_fd >= 0) {
		vline(line, sizeof line, SYNC_MSG_ERROR " ", fmt, ap);
		va_end(ap);
		errno = saved;
		write_all(sync_fd, line, strlen(line));
		_exit(1);
	}
	vline(line, sizeof line, "tsrun-init: ", fmt, ap);
	va_end(ap);
	if (report_fd >= 0) {
		/* `start` waits on the exec fifo: "1" and the message (without our prefix and newline) tell
		 * it why the process will not run; it reports it (our stderr is the container's). */
		size_t plen = strlen("tsrun-init: ");
		write_all(report_fd, FIFO_FAILED, 1);
		write_all(report_fd, line + plen, strlen(line) - plen - 1);
		_exit(status);
	}
	write_all(STDERR_FILENO, line, strlen(line));
	_exit(status);
}

