/*
 * tsrun-init: shared declarations. See main.c for the overview and the build command.
 */
#ifndef TSRUN_INIT_H
#define TSRUN_INIT_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* One decoded record of the launch plan (layout: src/plan/ops.ts). */
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

/* One entry of the op table (ops.c). nint/nstr: expected counts, -1 = variable. */
struct op_def {
	const char *name;
	int nint;
	int nstr;
	void (*run)(const struct rec *r);
};

/* ops.c */
const struct op_def *op_lookup(uint32_t op);
/* Extra per-op count checks that the table cannot express (e.g. EXEC: nstr >= argc). NULL = fine. */
const char *op_check(const struct rec *r);

/* resolve.c: paths resolved inside a root that they can never leave (openat2 RESOLVE_IN_ROOT). */
int openat2_in_root(int rootfd, const char *rel, int flags);
/* target relative to root ("" for root itself), or NULL when target is not under root. */
const char *path_in_root(const char *root, const char *target);
/* open(target) resolved inside root; root "" opens target as given. -1 with errno (EXDEV: not under root). */
int open_in_root(const char *root, const char *target, int flags);
/* path's directory into dir ("/" for a top-level name) and *base = its last component; -1 with errno. */
int split_parent(const char *path, char *dir, size_t size, const char **base);
/* O_PATH fd of path's directory, resolved inside root ("" = the current root "/"); *base = the last component. */
int open_parent_in_root(const char *root, const char *path, const char **base);

/* overlay.c: OVERLAY (31), the overlay of tsrun.layers on the container's root. */
void op_overlay(const struct rec *r);

/* mask.c: MASK (34), linux.maskedPaths. */
void op_mask(const struct rec *r);

/* mount_attr.c: MOUNT_SETATTR (32, recursive mount attributes) and COPY_UP (33, tmpcopyup). */
void op_mount_setattr(const struct rec *r);
void op_copy_up(const struct rec *r);

/* privileges.c: PERSONALITY (43), SCHED_SETATTR (44), IOPRIO_SET (45), CPU_AFFINITY (46),
 * SESSION_KEYRING (47), SYSCTL (48), OOM_SCORE_ADJ (49). */
void op_personality(const struct rec *r);
void op_sched_setattr(const struct rec *r);
void op_ioprio_set(const struct rec *r);
void op_cpu_affinity(const struct rec *r);
void op_session_keyring(const struct rec *r);
void op_sysctl(const struct rec *r);
void op_oom_score_adj(const struct rec *r);
/* join.c: JOIN_NAMESPACES (53), the namespaces of a running container (exec). */
#define JOIN_MAX 16
void op_join_namespaces(const struct rec *r);
/* seccomp.c: SECCOMP (35) loads a filter, SECCOMP_LISTENER (36) connects the notify listener's socket;
 * stage 0 drops its copy of that socket after CLONE. */
void op_seccomp(const struct rec *r);
void op_seccomp_listener(const struct rec *r);
void seccomp_drop_listener(void);
/* tty.c: CONSOLE_SOCKET (39), CONSOLE_PAIR (40), PTY (41), and the terminal relay of a foreground stage 0. */
void op_console_socket(const struct rec *r);
void op_console_pair(const struct rec *r);
void op_pty(const struct rec *r);
/* Right after CLONE, on each side: drop the other side's end of the console connection. */
void tty_after_clone(int child);
/* Whether stage 0 holds the relay end of CONSOLE_PAIR (it then runs tty_relay instead of waitpid). */
int tty_relaying(void);
/* Receive the master, relay the caller's terminal until the child exits; returns its exit status. */
int tty_relay(pid_t pid);

/* bind_sources.c: BIND_SOURCES (70), bind mount sources opened by stage 0 in the child's mount namespace
 * and handed over after CLONE (send in stage 0, receive in the child); MOUNT takes one by index. */
void op_bind_sources(const struct rec *r);
void bind_sources_send(pid_t child);
void bind_sources_receive(void);
int bind_source_take(uint64_t index);

/* pseudo_fs.c: DETACH_PSEUDO_FS (72), --no-pivot: full procfs/sysfs mounts outside the rootfs detached. */
void op_detach_pseudo_fs(const struct rec *r);

/* bpf.c: the `bpf-devices <cgroup dir>` mode (device eBPF program on stdin, cgroup v2). */
int mode_bpf_devices(const char *dir);

/* hook.c: HOOK (37), an OCI hook run by the init (createContainer, startContainer). */
void op_hook(const struct rec *r);
/* ops.c: the `from` of CLOEXEC_FROM once it ran (0 before): every fd from there up is close-on-exec. */
extern unsigned int cloexec_bound;

/* unix.c: connect to an AF_UNIX stream socket (-1 with errno; ENAMETOOLONG for a path over 107
 * bytes), and send one fd with a payload in one SCM_RIGHTS message (0, or -1 with errno). */
int unix_connect(const char *path);
int send_fd(int sock, int fd, const char *payload);

/* sync.c: the line protocol with the parent on the sync fd. */
extern int sync_fd;                         /* -1 once closed (after READY) */
extern int report_fd;                       /* the exec fifo from WAIT_FIFO to STARTED: fail() reports there */
void sync_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define SYNC_SLOTS 8
/* Sends "sync <tag>"; keeps each "data <n> <text>" the parent sends; returns on "go", else _exit(1). */
void sync_wait_go(const char *tag);
/* The text the parent sent for slot n at a sync (fail() when it sent none). */
const char *sync_data(unsigned slot);
void sync_close(void);
/* Report a failure and exit: "error <msg>" on the sync fd while it is open (status 1), otherwise
 * "tsrun-init: <msg>" on stderr with `status` (and "1<msg>" on report_fd while it is open). Never returns. */
void fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
