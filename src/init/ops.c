/* tsrun-init: the op table and the handlers of the smaller ops (the contract: src/launch/ops.ts). */
#include "init.h"
#include <grp.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/resource.h>

static int fifo_fd = -1;         /* OPEN_FIFO -> WAIT_FIFO */
int exec_fifo_fd(void) { return fifo_fd; } /* for FIFO_CHECK (procfs/) */
static char exec_path[PATH_MAX]; /* FIND_EXEC -> EXEC */
static int cwd_fd = -1;          /* CHDIR -> CHDIR_RETRY: a directory root could not enter */
unsigned int cloexec_bound;

THIN_OP(unshare, unshare((int)I(0)), "unshare (flags 0x%llx): %s", U(0), ERR)
THIN_OP(sethostname, sethostname(S(0), strlen(S(0))), "sethostname \"%s\": %s", S(0), ERR)
THIN_OP(setdomainname, setdomainname(S(0), strlen(S(0))), "setdomainname \"%s\": %s", S(0), ERR)
THIN_OP(no_new_privs, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl PR_SET_NO_NEW_PRIVS: %s", ERR)
THIN_OP(prctl, prctl((int)I(0), (unsigned long)I(1), 0, 0, 0), "prctl (option %llu, %llu): %s", U(0), U(1), ERR)
THIN_OP(setsid, setsid(), "setsid: %s", ERR)
THIN_OP(rlimit, setrlimit((int)I(0), &(struct rlimit){(rlim_t)I(1), (rlim_t)I(2)}),
	"setrlimit %llu (soft %llu, hard %llu): %s", U(0), U(1), U(2), ERR)
void op_sync(const struct rec *r) { sync_wait_go(S(0)); }
void op_umask(const struct rec *r) { umask((mode_t)I(0)); }

void op_setns(const struct rec *r)
{
	int fd = open(S(0), O_RDONLY | O_CLOEXEC);
	FAIL_IF(fd < 0, "open namespace %s: %s", S(0), ERR);
	FAIL_IF(setns(fd, (int)I(0)) < 0, "setns %s (type 0x%llx): %s", S(0), U(0), ERR);
	close(fd);
}

void op_clone(const struct rec *r)
{
	unsigned long flags = (unsigned long)I(0);
	const char *cgroup = S(0);
	int gate[2], cgfd; /* the child waits for EOF here: no "sync" line of its before stage 0's "pid <n>" */
	char c;
	FAIL_IF(pipe2(gate, O_CLOEXEC) < 0, "pipe: %s", ERR);
	/* Raw clone, no new stack: fork-like (we are single threaded). clone3(CLONE_INTO_CGROUP) spares the
	 * RCU grace period (~20 ms) that a later cgroup.procs write would cost. */
	long pid;
	if (cgroup[0]) {
		FAIL_IF((cgfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0, "open cgroup %s: %s", cgroup, ERR);
		struct clone_args ca = {.flags = flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)cgfd};
		FAIL_IF((pid = syscall(SYS_clone3, &ca, sizeof ca)) < 0, "clone3 into cgroup %s (flags 0x%lx): %s", cgroup, flags, ERR);
		close(cgfd);
	} else
		FAIL_IF((pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0)) < 0, "clone (flags 0x%lx): %s", flags, ERR);
	if (pid == 0) {
		/* Ignored dispositions and a blocked mask would survive execve (EINVAL for SIGKILL etc.: fine). */
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		for (int sig = 1; sig < NSIG; sig++)
			sigaction(sig, &dfl, NULL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		tty_after_clone(1);
		close(gate[1]);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		close(gate[0]);
		bind_sources_receive();
		return; /* the child goes on with the next record */
	}
	/* Stage 0: the listener and the console socket must see our copies of their connections close. */
	seccomp_drop_listener();
	tty_after_clone(0);
	close(gate[0]);
	bind_sources_send((pid_t)pid);
	sync_send(SYNC_MSG_PID " %ld", pid); /* exits if the parent is gone (the child then reads EOF) */
	sync_close();
	close(gate[1]);
	_exit(I(1) ? stage0_wait((pid_t)pid, console_take_relay()) : 0);
}

void op_write_file(const struct rec *r)
{
	int fd = open(S(0), O_WRONLY | O_CLOEXEC);
	FAIL_IF(fd < 0, "open %s: %s", S(0), ERR);
	/* One write(): uid_map, timens_offsets and the like take everything at once. */
	size_t len = strlen(S(1));
	ssize_t n = write(fd, S(1), len);
	FAIL_IF(n < 0, "write %s: %s", S(0), ERR);
	FAIL_IF((size_t)n != len, "write %s: short write (%zd of %zu bytes)", S(0), n, len);
	close(fd);
}

/* A change of ids resets the dumpable flag to fs.suid_dumpable (maybe 1): stay non-dumpable to execve. */
static void set_ids(uid_t u, gid_t g)
{
	FAIL_IF(setresgid(g, g, g) < 0, "setresgid %u: %s", g, ERR);
	FAIL_IF(setresuid(u, u, u) < 0, "setresuid %u: %s", u, ERR);
	FAIL_IF(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0, "prctl PR_SET_DUMPABLE: %s", ERR);
}

void op_setresid(const struct rec *r) { set_ids((uid_t)I(0), (gid_t)I(1)); }
void op_setuser(const struct rec *r)
{
	static gid_t gids[NGROUPS_MAX]; /* untouched (no memory) unless used */
	size_t n = r->nint - 3;
	for (size_t k = 0; k < n; k++)
		gids[k] = (gid_t)I(3 + k);
	FAIL_IF(I(2) && setgroups(n, gids) < 0, "setgroups (%zu groups): %s", n, ERR);
	set_ids((uid_t)I(0), (gid_t)I(1));
}

void op_mount(const struct rec *r)
{
	unsigned long flags = (unsigned long)I(0);
	int kind = (int)I(1), fd = -1, srcfd = -1;
	const char *src = S(0), *where = S(1), *target = S(1), *fstype = S(2), *data = S(3), *root = S(4), *what;
	const char *shown_src = *src ? src : "none", *shown_type = *fstype ? fstype : "none";
	char at[FD_PATH_SIZE], from[FD_PATH_SIZE];
	struct stat st;
	mode_t covered = 0; /* kind 4: the mode of the directory the new filesystem covers (0: none) */
	if (r->nint > 2) /* BIND_SOURCES opened the source */
		src = fd_path(from, srcfd = bind_source_take(I(2)));
	if (*root) {
		if (kind == 4 && (fd = resolve_in_root(root, target, O_PATH, 0, &what)) >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
			covered = st.st_mode & 07777;
		close_if(fd);
		fd = resolve_in_root(root, target, O_PATH, kind == 3 ? 0 : kind == 4 ? 1 : kind, &what);
		if (fd < 0 && kind == 3 && errno == ENOENT)
			return;
		FAIL_IF(fd < 0, "mount %s on %s (type %s): %s %s in %s: %s", shown_src, target, shown_type, what, target, root, ERR);
		where = fd_path(at, fd); /* the resolved object: a symlink swapped in cannot redirect the mount */
		if (kind == 3 && (flags & MS_BIND) && !(flags & MS_REMOUNT)) /* readonlyPaths: bound onto itself */
			src = at;
	}
	FAIL_IF(mount(*src ? src : NULL, where, *fstype ? fstype : NULL, flags, *data ? data : NULL) < 0,
		"mount %s on %s (type %s): %s", shown_src, target, shown_type, ERR);
	close_if(fd);
	close_if(srcfd);
	if (!covered)
		return;
	/* The path now leads to the new filesystem's root: chmod it through its O_PATH fd. */
	fd = resolve_in_root(root, target, O_PATH, 0, &what);
	FAIL_IF(fd < 0 || chmod(fd_path(at, fd), covered) < 0, "mount %s on %s (type %s): give it the mode of the directory it covers (%o): %s",
		shown_src, target, shown_type, (unsigned)covered, ERR);
	close(fd);
}

/* MKNOD and SYMLINK work in their path's directory resolved inside the root: a /dev that is a symlink
 * (even to a /proc magic link) cannot send them outside. MKNOD makes missing dirs (runc's MkdirAll). */
void op_mknod(const struct rec *r)
{
	const char *path = S(0), *base;
	mode_t mode = (mode_t)I(0);
	int dir = open_parent("/", path, 1, &base);
	FAIL_IF(dir < 0, "mknod %s: open its directory: %s", path, ERR);
	FAIL_IF(unlinkat(dir, base, 0) < 0 && errno != ENOENT, "mknod %s: remove existing: %s", path, ERR);
	FAIL_IF(mknodat(dir, base, mode, makedev((unsigned)I(1), (unsigned)I(2))) < 0, "mknod %s (%llu:%llu): %s", path, U(1), U(2), ERR);
	FAIL_IF(fchmodat(dir, base, mode & 07777, 0) < 0, "chmod %s: %s", path, ERR); /* mknod applied the umask */
	FAIL_IF(fchownat(dir, base, (uid_t)I(3), (gid_t)I(4), AT_SYMLINK_NOFOLLOW) < 0, "chown %s: %s", path, ERR);
	close(dir);
}

void op_symlink(const struct rec *r)
{
	const char *base;
	int dir = open_parent(S(2), S(1), 0, &base);
	FAIL_IF(dir < 0, "symlink %s: open its directory: %s", S(1), ERR);
	FAIL_IF(I(0) == 2 && unlinkat(dir, base, 0) < 0 && errno != ENOENT && !(errno == EISDIR && unlinkat(dir, base, AT_REMOVEDIR) == 0),
		"symlink %s: remove the existing one: %s", S(1), ERR);
	FAIL_IF(symlinkat(S(0), dir, base) < 0 && !(errno == EEXIST && I(0)), "symlink %s -> %s: %s", S(1), S(0), ERR);
	close(dir);
}

void op_pivot_root(const struct rec *r)
{
	int oldroot = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FAIL_IF(oldroot < 0, "open old root: %s", ERR);
	FAIL_IF(chdir(S(0)) < 0, "chdir %s: %s", S(0), ERR);
	/* pivot_root(".", "."): the old root is stacked over the new one (no put_old in the rootfs). */
	FAIL_IF(syscall(SYS_pivot_root, ".", ".") < 0, "pivot_root %s: %s", S(0), ERR);
	/* From the old root's directory: rslave on the new root's "." would undo a config mount's "shared". */
	FAIL_IF(fchdir(oldroot) < 0, "fchdir old root: %s", ERR);
	close(oldroot);
	/* A slave first: the detach must never propagate an unmount back to the host's peer group. */
	FAIL_IF(mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0, "make old root rslave: %s", ERR);
	FAIL_IF(umount2(".", MNT_DETACH) < 0, "unmount old root: %s", ERR);
	FAIL_IF(chdir("/") < 0, "chdir /: %s", ERR);
}

static void chroot_into(const char *rootfs, int move)
{
	FAIL_IF(chdir(rootfs) < 0, "chdir %s: %s", rootfs, ERR);
	FAIL_IF(move && mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0, "move mount %s to /: %s", rootfs, ERR);
	FAIL_IF(chroot(".") < 0, "chroot %s: %s", rootfs, ERR);
	FAIL_IF(chdir("/") < 0, "chdir /: %s", ERR);
}
void op_move_root(const struct rec *r) { chroot_into(S(0), 1); }
void op_chroot(const struct rec *r) { chroot_into(S(0), 0); }

void op_cap_bounding(const struct rec *r)
{
	for (uint64_t cap = 0; cap <= I(1) && cap < 64; cap++)
		FAIL_IF(!(I(0) & (1ull << cap)) && prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0,
			"drop capability %llu from the bounding set: %s", (unsigned long long)cap, ERR);
}

void op_capset(const struct rec *r)
{
	/* Version 3: two 32-bit words per set, low first. */
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	for (int w = 0; w < 2; w++)
		data[w] = (struct __user_cap_data_struct){(uint32_t)(I(0) >> (32 * w)), (uint32_t)(I(1) >> (32 * w)), (uint32_t)(I(2) >> (32 * w))};
	FAIL_IF(syscall(SYS_capset, &hdr, data) < 0, "capset (effective 0x%llx, permitted 0x%llx, inheritable 0x%llx): %s", U(0), U(1), U(2), ERR);
}

void op_ambient(const struct rec *r)
{
	for (unsigned long cap = 0; cap < 64; cap++)
		FAIL_IF((I(0) & (1ull << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0,
			"raise ambient capability %lu: %s", cap, ERR);
}

void op_chdir(const struct rec *r)
{
	replace_fd(&cwd_fd, -1);
	/* No /proc magic links: a cwd such as /proc/self/fd/N must not reach an fd we hold (CVE-2024-21626). */
	int fd = open_in_root("/", S(0), O_PATH | O_DIRECTORY);
	FAIL_IF(fd < 0, "chdir %s: %s", S(0), errno == ELOOP ? "a /proc magic link or a symlink loop (refused)" : ERR);
	if (fchdir(fd) < 0) {
		FAIL_IF(errno != EACCES && errno != EPERM, "chdir %s: %s", S(0), ERR);
		/* Root may be refused where the process's user is let in (a group that root does not map
		 * in a user namespace): CHDIR_RETRY tries this fd again as that user. */
		cwd_fd = fd;
		return;
	}
	close(fd);
	/* A directory outside the root reads back as "(unreachable)/..." (or getcwd fails ENOENT). */
	char buf[PATH_MAX];
	FAIL_IF(!getcwd(buf, sizeof buf) || buf[0] != '/', "chdir %s: the directory is outside the container's root", S(0));
}

void op_chdir_retry(const struct rec *r)
{
	if (cwd_fd < 0)
		return;
	/* Under the container's filter: fchdir and close only. */
	FAIL_IF(fchdir(cwd_fd) < 0, "chdir %s: %s (as root and as the process's user)", S(0), ERR);
	replace_fd(&cwd_fd, -1);
}

void op_cloexec_from(const struct rec *r)
{
	unsigned int from = cloexec_bound = (unsigned int)I(0);
	if (close_range(from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	FAIL_IF(errno != ENOSYS && errno != EINVAL, "close_range %u: %s", from, ERR);
	DIR *d = opendir("/proc/self/fd"); /* older kernels: mark each open fd by hand */
	FAIL_IF(!d, "open /proc/self/fd: %s", ERR);
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		int fl = *end || end == e->d_name || fd < (long)from || fd == dirfd(d) ? -1 : fcntl((int)fd, F_GETFD);
		FAIL_IF(fl >= 0 && fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) < 0, "mark fd %ld close-on-exec: %s", fd, ERR);
	}
	closedir(d);
}

void op_open_fifo(const struct rec *r)
{
	close_if(fifo_fd);
	fifo_fd = open(S(0), O_PATH | O_CLOEXEC);
	FAIL_IF(fifo_fd < 0, "open exec fifo %s: %s", S(0), ERR);
}

char **str_list(char **strs, size_t n)
{
	char **list = calloc(n + 1, sizeof *list);
	FAIL_IF(!list, "exec: %s", ERR);
	return memcpy(list, strs, n * sizeof *list);
}

void op_find_exec(const struct rec *r)
{
	const char *p = S(0), *file = S(1);
	struct stat st;
	if (strchr(file, '/')) { /* used as given */
		int e = stat(file, &st) < 0 ? errno : !S_ISREG(st.st_mode) || faccessat(AT_FDCWD, file, X_OK, AT_EACCESS) < 0 ? EACCES
			: snprintf(exec_path, sizeof exec_path, "%s", file) >= (int)sizeof exec_path ? ENAMETOOLONG : 0;
		if (e)
			fail(e == ENOENT || e == ENOTDIR ? 127 : 126, "exec: \"%s\": %s", file,
			     e == ENOENT || e == ENOTDIR ? "no such file or directory" : e == EACCES ? "permission denied" : strerror(e));
		return;
	}
	/* As execvp: each ':'-separated element in order, an empty one the current dir. */
	for (const char *colon;; p = colon + 1) {
		colon = strchr(p, ':');
		int dl = colon ? (int)(colon - p) : (int)strlen(p);
		int n = snprintf(exec_path, sizeof exec_path, "%.*s%s%s", dl, p, dl ? "/" : "", file);
		if (*file && n < (int)sizeof exec_path && stat(exec_path, &st) == 0 && S_ISREG(st.st_mode) &&
		    faccessat(AT_FDCWD, exec_path, X_OK, AT_EACCESS) == 0)
			return;
		if (!colon)
			break;
	}
	exec_path[0] = '\0';
	fail(127, "exec: \"%s\": executable file not found in $PATH", file);
}

void op_ready(const struct rec *r) { (void)r; sync_send(SYNC_MSG_READY); sync_close(); }

void op_wait_fifo(const struct rec *r)
{
	(void)r;
	char at[FD_PATH_SIZE];
	FAIL_IF(fifo_fd < 0, "bad plan: WAIT_FIFO without OPEN_FIFO");
	/* Reopening the O_PATH fd for writing blocks until `start` reads the fifo; its path may be gone. */
	int fd = trim_and_open(fd_path(at, fifo_fd));
	FAIL_IF(fd < 0 && (errno = -fd), "open exec fifo: %s", ERR);
	replace_fd(&fifo_fd, -1);
	report_fd = fd; /* until STARTED, a failure reaches `start` here (fail() in sync.c) */
}

void op_started(const struct rec *r)
{
	(void)r;
	FAIL_IF(report_fd < 0, "bad plan: STARTED without WAIT_FIFO");
	ssize_t n;
	while ((n = write(report_fd, FIFO_STARTED, 1)) < 0 && errno == EINTR)
		;
	int fd = report_fd;
	report_fd = -1;
	FAIL_IF(n != 1, "write exec fifo: %s", n < 0 ? ERR : "short write");
	close(fd);
}

void op_exec(const struct rec *r)
{
	size_t argc = (size_t)I(0);
	FAIL_IF(!exec_path[0], "bad plan: EXEC without FIND_EXEC");
	execve(exec_path, str_list(r->strs, argc), str_list(r->strs + argc, r->nstr - argc));
	fail(errno == ENOENT ? 127 : 126, "exec: \"%s\": %s", exec_path,
	     errno == ENOENT ? "no such file or directory" : errno == EACCES ? "permission denied" : ERR);
}

void op_loopback_up(const struct rec *r)
{
	(void)r;
	struct ifreq ifr = {.ifr_name = "lo"};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	FAIL_IF(s < 0, "bring up lo: socket: %s", ERR);
	FAIL_IF(ioctl(s, SIOCGIFFLAGS, &ifr) < 0, "bring up lo: SIOCGIFFLAGS: %s", ERR);
	ifr.ifr_flags |= IFF_UP;
	FAIL_IF(ioctl(s, SIOCSIFFLAGS, &ifr) < 0, "bring up lo: SIOCSIFFLAGS: %s", ERR);
	close(s);
}

/* The op table: OP_LIST of the generated contract, indexed by code. */
#define OP_ENTRY(NAME, name, ni, ns) [OP_##NAME] = {#NAME, ni, ns, op_##name},
static const struct op_def table[] = {OP_LIST(OP_ENTRY)};

const struct op_def *op_lookup(uint32_t op)
{
	return op < sizeof table / sizeof table[0] && table[op].run ? &table[op] : NULL;
}

const char *op_check(const struct rec *r)
{
	uint32_t ni = r->nint, ns = r->nstr;
	switch (r->op) {
	case OP_MOUNT: /* flags, mkdirKind[, bind source index] */
		return ni == 2 || ni == 3 ? NULL : "needs 2 or 3 ints";
	case OP_BIND_SOURCES: /* one path per bind mount */
		return ns >= 1 ? NULL : "needs at least one path";
	case OP_DETACH_PSEUDO_FS: /* rootfs, then at least one filesystem type */
		return ns >= 2 ? NULL : "needs the rootfs and at least one filesystem type";
	case OP_SETUSER: /* uid, gid, setgroups, then the gids */
		return ni < 3 ? "needs at least 3 ints (uid, gid, setgroups)" : ni - 3 > NGROUPS_MAX ? "too many groups" : NULL;
	case OP_HOOK: /* timeout, argc, slot; name, path, argc argv strings, then the env */
		return ns < 3 || I(1) < 1 || I(1) > ns - 2 ? "argc must be between 1 and the number of strings after name and path"
		       : I(2) < SYNC_SLOTS ? NULL : "no such sync data slot";
	case OP_CPU_AFFINITY: /* at least one mask word, at most MAX_CPUS (8192) bits */
		return ni >= 1 && ni <= 128 ? NULL : "needs between 1 and 128 mask words";
	case OP_JOIN_NAMESPACES: /* one type per path */
		return ni != ns ? "needs one namespace type per path" : ns < 1 || ns > JOIN_MAX ? "needs between 1 and 16 paths" : NULL;
	case OP_EXEC: /* argc, then argc argv strings and the env */
		return I(0) >= 1 && I(0) <= ns ? NULL : "argc must be between 1 and the number of strings";
	case OP_SECCOMP: /* flags, slot, then 1..BPF_MAXINSNS instructions */
		return ni >= 3 && ni - 2 <= 4096 ? NULL : "needs flags, a slot and 1 to 4096 instructions";
	case OP_OVERLAY: /* target, upper, work, then the lower dirs (exactly one string when joined) */
		return ns >= 4 && (!I(1) || ns == 4) ? NULL : "needs a target, upper, work and at least one lower dir (exactly one string when joined)";
	}
	return NULL;
}
