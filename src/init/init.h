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

/* One decoded record of the launch plan (layout: src/launch/ops.ts): nint ints copied to aligned
 * memory, nstr NUL-terminated strings pointing into the plan buffer. */
struct rec { uint32_t op, nint, nstr; const uint64_t *ints; char **strs; };
/* A record's ints and strings, and the errno text, as every op handler reads them. */
#define I(n) (r->ints[n])
#define U(n) ((unsigned long long)I(n)) /* for %llu */
#define S(n) (r->strs[n])
#define ERR strerror(errno)

/* ops.c: the op table (from OP_LIST; nint/nstr -1 = variable), its handlers op_<name>, and the count
 * checks the table cannot express (e.g. EXEC: nstr >= argc; NULL = fine). */
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

/* resolve.c: paths resolved inside a root that they can never leave (openat2 RESOLVE_IN_ROOT).
 * path_in_root: target relative to root ("" for root itself), NULL when not under root. resolve_in_root,
 * the one path walk: an fd (flags) of target inside root ("" opens target as given); create 1 makes
 * missing components (directories 0755), 2 the same with the last an empty file (0644); -1 with errno
 * (EXDEV: not under root), *what naming the step that failed. open_in_root: the same without create.
 * open_parent: O_PATH fd of path's directory so ("" = "/"), *base = its last component. fd_path:
 * "/proc/self/fd/<fd>" in buf, to act on the resolved object, not a path a symlink could redirect. */
int openat2_in_root(int rootfd, const char *rel, int flags);
const char *path_in_root(const char *root, const char *target);
int resolve_in_root(const char *root, const char *target, int flags, int create, const char **what);
int open_in_root(const char *root, const char *target, int flags);
int open_parent(const char *root, const char *path, int create, const char **base);
#define FD_PATH_SIZE 32
const char *fd_path(char *buf, int fd);

/* After CLONE, stage 0 drops its copy of the SECCOMP_LISTENER socket, each side the other's end of the
 * console connection; a foreground stage 0 takes CONSOLE_PAIR's relay end (-1 without one). */
void seccomp_drop_listener(void);
void tty_after_clone(int child);
int console_take_relay(void);
#define JOIN_MAX 16
/* bind_sources.c: BIND_SOURCES hands bind mount sources opened by stage 0 in the child's mount
 * namespace over after CLONE (send in stage 0, receive in the child); MOUNT takes one by index. */
void bind_sources_send(pid_t child);
void bind_sources_receive(void);
int bind_source_take(uint64_t index);

/* Outside the core (main.c says why): relay/ (a foreground stage 0's wait: the exit code for the
 * child's status), rss/trim.c, tools/modes.c. */
int stage0_wait(pid_t pid, int relay_fd);
int trim_and_open(const char *path);
int tool_main(int argc, char **argv);

/* unix.c: connect to an AF_UNIX stream socket; send one fd with a payload (0); receive one (the fd,
 * or -2 at EOF or for a message without one fd). -1 with errno when a call fails. */
int unix_connect(const char *path);
int send_fd(int sock, int fd, const char *payload);
int recv_fd(int sock);

/* sync.c: sync_fd (-1 once closed after READY), report_fd (the exec fifo from WAIT_FIFO to STARTED);
 * sync_wait_go sends "sync <tag>", keeps the data lines for sync_data, returns on "go". */
extern int sync_fd, report_fd;
void sync_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sync_wait_go(const char *tag);
const char *sync_data(unsigned slot);
/* Report a failure and exit: "error <msg>" on the sync fd while it is open (status 1), otherwise
 * "tsrun-init: <msg>" on stderr with `status` (and "1<msg>" on report_fd while it is open). */
void fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* fail(1, ...) when cond holds: the error path of most calls, on one line. */
#define FAIL_IF(cond, ...) do { if (cond) fail(1, __VA_ARGS__); } while (0)
/* close(fd) when it is open; close(fd) keeping errno (for the error path that reports it); close the
 * fd *slot holds (if any) and keep fd there instead (-1: none). */
static inline void close_if(int fd) { if (fd >= 0) close(fd); }
static inline void close_keep_errno(int fd) { int e = errno; close(fd); errno = e; }
static inline void replace_fd(int *slot, int fd) { close_if(*slot); *slot = fd; }
static inline void sync_close(void) { replace_fd(&sync_fd, -1); }

#endif
