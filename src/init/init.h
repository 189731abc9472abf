/* tsrun-init: shared declarations. See main.c for the overview and the build command. */
#ifndef TSRUN_INIT_H
#define TSRUN_INIT_H

/* Included first by every .c file: _GNU_SOURCE, and the system headers most of them use. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP, CLONE_PIDFD */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "generated/contract.h" /* op codes, record shapes, sync words: from src/launch/ (the build makes it) */

/* A decoded record (layout: src/launch/ops.ts): ints copied to aligned memory, strings in the plan. */
struct rec { uint32_t op, nint, nstr; const uint64_t *ints; char **strs; };
#define I(n) (r->ints[n])
#define U(n) ((unsigned long long)I(n)) /* for %llu */
#define S(n) (r->strs[n])
#define ERR strerror(errno)

/* ops.c: the op table (OP_LIST), its handlers op_<name>, and the checks it cannot express (NULL: fine). */
struct op_def { const char *name; int nint, nstr; void (*run)(const struct rec *r); };
#define OP_DECLARE(NAME, name, ni, ns) void op_##name(const struct rec *r);
OP_LIST(OP_DECLARE)
const struct op_def *op_lookup(uint32_t op);
const char *op_check(const struct rec *r);
/* ops.c: n strings as a NULL-terminated array; CLOEXEC_FROM's `from` once it ran (0 before). */
char **str_list(char **strs, size_t n);
extern unsigned int cloexec_bound;

/* main.c: check and decode a whole plan (fail() on the first bad record); read an fd to EOF; a
 * decimal >= min into *out (0, or -1 when s is not one). hook.c: CLOCK_MONOTONIC in ms. */
struct rec *decode_plan(unsigned char *buf, size_t len, uint32_t *count);
unsigned char *read_all(int fd, size_t *len);
int parse_int(const char *s, long long min, long long *out);
long long now_ms(void);

/* resolve.c: paths resolved inside a root they never leave. path_in_root: target relative to root, or
 * NULL. resolve_in_root: an fd of target in root ("": as given); create 1 makes missing dirs (0755), 2
 * the last an empty file (0644); -1 with errno (EXDEV: not under root), *what naming the failed step.
 * open_parent: the same of path's directory, *base its last component. fd_path: "/proc/self/fd/<fd>". */
int openat2_in_root(int rootfd, const char *rel, int flags);
const char *path_in_root(const char *root, const char *target);
int resolve_in_root(const char *root, const char *target, int flags, int create, const char **what);
int open_in_root(const char *root, const char *target, int flags);
int open_parent(const char *root, const char *path, int create, const char **base);
#define FD_PATH_SIZE 32
const char *fd_path(char *buf, int fd);

/* After CLONE each side drops what is the other's (sockets, console ends); stage 0 takes the relay end. */
void seccomp_drop_listener(void);
void tty_after_clone(int child);
int console_take_relay(void);
#define JOIN_MAX 16
/* bind_sources.c: stage 0 sends after CLONE, the child receives; MOUNT/IDMAP_MOUNT take one by index. */
void bind_sources_send(pid_t child);
int source_open(pid_t child, size_t index, const char *path); /* idmap/idmap.c */
void bind_sources_receive(void);
int bind_source_take(uint64_t index);

/* Outside the core: relay/stage0.c (the exit code for the child's status), rss/trim.c, tools/modes.c. ops.c: OPEN_FIFO's fd. */
int exec_fifo_fd(void);
int stage0_wait(pid_t pid, int relay_fd);
int trim_and_open(const char *path);
int tool_main(int argc, char **argv);

/* unix.c: -1 with errno when a call fails; recv_fd: -2 at EOF or for a message without one fd. */
int unix_connect(const char *path);
int send_fd(int sock, int fd, const char *payload);
int recv_fd(int sock);

/* sync.c: sync_fd (-1 after READY), report_fd (the exec fifo from WAIT_FIFO to STARTED). */
extern int sync_fd, report_fd;
void sync_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sync_wait_go(const char *tag);
const char *sync_data(unsigned slot);
/* Report a failure and exit: on the sync fd while open (status 1), else on report_fd or stderr. */
void fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
#define FAIL_IF(cond, ...) do { if (cond) fail(1, __VA_ARGS__); } while (0)
/* An op that is one call: the call, then the error message's format and arguments. */
#define THIN_OP(name, call, ...) \
	void op_##name(const struct rec *r) { (void)r; FAIL_IF((call) < 0, __VA_ARGS__); }
static inline void close_if(int fd) { if (fd >= 0) close(fd); }
static inline void close_keep_errno(int fd) { int e = errno; close(fd); errno = e; }
static inline void replace_fd(int *slot, int fd) { close_if(*slot); *slot = fd; }
static inline void sync_close(void) { replace_fd(&sync_fd, -1); }

#endif
