/*
 * tsrun-init: shared declarations. See main.c for the overview and the build command.
 */
#ifndef TSRUN_INIT_H
#define TSRUN_INIT_H

/* Every .c file includes this first: _GNU_SOURCE, and the system headers most of them use. */
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
#include <stddef.h>
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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "generated/contract.h" /* op codes, record shapes, sync words: from src/launch/ (the build makes it) */

/* One decoded record of the launch plan (layout: src/launch/ops.ts). */
struct rec {
	uint32_t op;
	uint32_t nint;
	uint32_t nstr;
	const uint64_t *ints; /* nint values, copied to aligned memory */
	char **strs;          /* nstr NUL-terminated strings, pointing into the plan buffer */
};

/* A record's ints and strings, and the errno text, as every op handler reads them. */
#define I(n) (r->ints[n])
#define S(n) (r->strs[n])
#define ERR strerror(errno)

/* One entry of the op table (ops.c, from OP_LIST). nint/nstr: expected counts, -1 = variable. */
struct op_def {
	const char *name;
	int nint;
	int nstr;
	void (*run)(const struct rec *r);
};

/* The handler of every op: op_<name> (OP_LIST of the generated contract). */
#define OP_DECLARE(NAME, name, ni, ns) void op_##name(const struct rec *r);
OP_LIST(OP_DECLARE)

/* ops.c */
const struct op_def *op_lookup(uint32_t op);
/* Extra per-op count checks that the table cannot express (e.g. EXEC: nstr >= argc). NULL = fine. */
const char *op_check(const struct rec *r);

/* main.c: check and decode a whole plan (fail() on the first bad record); read an fd to EOF. */
struct rec *decode_plan(unsigned char *buf, size_t len, uint32_t *count);
unsigned char *read_all(int fd, size_t *len);

/* resolve.c: paths resolved inside a root that they can never leave (openat2 RESOLVE_IN_ROOT). */
int openat2_in_root(int rootfd, const char *rel, int flags);
/* target relative to root ("" for root itself), or NULL when target is not under root. */
const char *path_in_root(const char *root, const char *target);
/* open(target) resolved inside root; root "" opens target as given. -1 with errno (EXDEV: not under root). */
int open_in_root(const char *root, const char *target, int flags);
/* path's directory into dir ("/" for a top-level name) and *base = its last component; -1 with errno. */
int split_parent(const char *path, char *dir, size_t size, const char **base);
/* mounts (wt-cmount) */
/* resolve.c: the one path walk, which open_in_root and open_parent_in_root use too: an fd (flags) of
 * target inside root ("" opens target as given); create 1 makes missing components (directories 0755),
 * 2 the same with the last an empty file (0644); -1 with errno, *what naming the step that failed.
 * open_parent: path's directory so, made when create. fd_path: "/proc/self/fd/<fd>" in buf, to act on
 * the resolved object rather than a path a symlink swapped in could redirect. U(n): I(n) for %llu. */
int resolve_in_root(const char *root, const char *target, int flags, int create, const char **what);
int open_parent(const char *root, const char *path, int create, const char **base);
#define FD_PATH_SIZE 32
const char *fd_path(char *buf, int fd);
#define U(n) ((unsigned long long)I(n))
/* O_PATH fd of path's directory, resolved inside root ("" = the current root "/"); *base = the last component. */
int open_parent_in_root(const char *root, const char *path, const char **base);

/* join.c: JOIN_NAMESPACES takes at most this many paths. */
#define JOIN_MAX 16
/* seccomp.c: stage 0 drops its copy of the SECCOMP_LISTENER socket after CLONE. */
void seccomp_drop_listener(void);
/* console.c: right after CLONE, on each side, drop the other side's end of the console connection;
 * stage 0's end of CONSOLE_PAIR (-1 without one), taken by a foreground CLONE for the relay. */
void tty_after_clone(int child);
int console_take_relay(void);
/* bind_sources.c: BIND_SOURCES hands bind mount sources opened by stage 0 in the child's mount
 * namespace over after CLONE (send in stage 0, receive in the child); MOUNT takes one by index. */
void bind_sources_send(pid_t child);
void bind_sources_receive(void);
int bind_source_take(uint64_t index);
/* ops.c: n strings of a record as a NULL-terminated array (EXEC, HOOK). hook.c: CLOCK_MONOTONIC in ms. */
char **str_list(char **strs, size_t n);
long long now_ms(void);
/* ops.c: the `from` of CLOEXEC_FROM once it ran (0 before): every fd from there up is close-on-exec. */
extern unsigned int cloexec_bound;
/* main.c: a decimal >= min, 0 (or -1 when s is not one). */
int parse_int(const char *s, long long min, long long *out);

/* Outside the executor core (main.c says why). relay/tty_relay.c: receive the pty master on the
 * relay end of CONSOLE_PAIR, relay the caller's terminal until the child exits; its exit status. */
int tty_relay(pid_t pid, int relay_fd);
/* rss/trim.c: drop the page-table entries of our read-only mappings (then, for trim_and_open, block
 * in open(path, O_WRONLY) with no libc code in between: the fd or -errno). */
void trim_rss(void);
int trim_and_open(const char *path);
/* tools/: the modes other than init. */
int mode_check_plan(void);
int mode_wait(const char *pidarg, const char *timeoutarg, int input);
int mode_bpf_devices(const char *dir);

/* unix.c: connect to an AF_UNIX stream socket (-1 with errno; ENAMETOOLONG for a path over 107
 * bytes); send one fd with a payload in one SCM_RIGHTS message (0, or -1 with errno); receive one
 * (the fd; -1 with errno, or -2 at EOF or for a message without one fd). */
int unix_connect(const char *path);
int send_fd(int sock, int fd, const char *payload);
int recv_fd(int sock);

/* sync.c: the line protocol with the parent on the sync fd. */
extern int sync_fd;                         /* -1 once closed (after READY) */
extern int report_fd;                       /* the exec fifo from WAIT_FIFO to STARTED: fail() reports there */
void sync_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Sends "sync <tag>"; keeps each "data <n> <text>" the parent sends; returns on "go", else _exit(1). */
void sync_wait_go(const char *tag);
/* The text the parent sent for slot n at a sync (fail() when it sent none). */
const char *sync_data(unsigned slot);
void sync_close(void);
/* Report a failure and exit: "error <msg>" on the sync fd while it is open (status 1), otherwise
 * "tsrun-init: <msg>" on stderr with `status` (and "1<msg>" on report_fd while it is open). Never returns. */
void fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* close(fd) when it is open; close(fd) leaving errno as it was (for the error path that reports it). */
static inline void close_if(int fd) { if (fd >= 0) close(fd); }
static inline void close_keep_errno(int fd) { int e = errno; close(fd); errno = e; }
/* fail(1, ...) when cond holds: the error path of most calls, on one line. */
#define FAIL_IF(cond, ...) do { if (cond) fail(1, __VA_ARGS__); } while (0)

#endif
