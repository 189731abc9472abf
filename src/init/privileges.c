/*
 * tsrun-init: the process settings of issue 6 "Privileges and limits" that have no simpler op:
 * personality, scheduler, I/O priority, CPU affinity, the session keyring, sysctl writes, the OOM
 * score. Layouts: src/launch/ops.ts (43-49). Values are checked by the planner; a refusal here is
 * the kernel's, and the message names the config field (the record's last string).
 */
#include "init.h"
#include <linux/keyctl.h>
#include <sys/personality.h>

void op_personality(const struct rec *r)
{
	FAIL_IF(personality((unsigned long)I(0)) < 0,
		"%s: personality 0x%llx: %s", S(0), (unsigned long long)I(0), ERR);
}

/* struct sched_attr of include/uapi/linux/sched/types.h (SCHED_ATTR_SIZE_VER0 fields only: no
 * utilization clamps), declared here since glibc's headers do not all have it. */
struct tsrun_sched_attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime;
	uint64_t sched_deadline;
	uint64_t sched_period;
};

void op_sched_setattr(const struct rec *r)
{
	struct tsrun_sched_attr a;
	memset(&a, 0, sizeof a);
	a.size = sizeof a;
	a.sched_policy = (uint32_t)I(0);
	a.sched_flags = I(1);
	a.sched_nice = (int32_t)I(2);
	a.sched_priority = (uint32_t)I(3);
	a.sched_runtime = I(4);
	a.sched_deadline = I(5);
	a.sched_period = I(6);
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0) {
		int e = errno;
		/* EPERM for a realtime policy is usually the cgroup's missing realtime budget (v1 cpu
		 * controller with cpu.rt_runtime_us 0), not a missing capability: say so. */
		const char *hint = "";
		if (e == EPERM && (a.sched_policy == SCHED_FIFO || a.sched_policy == SCHED_RR))
			hint = " (a realtime policy needs CAP_SYS_NICE and, with the v1 cpu controller, a "
			       "realtime budget: linux.resources.cpu.realtimeRuntime)";
		else if (e == EBUSY && a.sched_policy == 6)
			hint = " (SCHED_DEADLINE admission control: not enough bandwidth left)";
		errno = e;
		fail(1, "%s: sched_setattr (policy %u, flags 0x%llx, nice %d, priority %u, runtime %llu, deadline %llu, period %llu): %s%s",
		     S(0), a.sched_policy, (unsigned long long)a.sched_flags, a.sched_nice, a.sched_priority,
		     (unsigned long long)a.sched_runtime, (unsigned long long)a.sched_deadline,
		     (unsigned long long)a.sched_period, ERR, hint);
	}
}

void op_ioprio_set(const struct rec *r)
{
	const int who_process = 1; /* IOPRIO_WHO_PROCESS */
	FAIL_IF(syscall(SYS_ioprio_set, who_process, 0, (int)I(0)) < 0,
		"%s: ioprio_set (class %llu, level %llu): %s", S(0), (unsigned long long)(I(0) >> 13), (unsigned long long)(I(0) & 0x1fff), ERR);
}

void op_cpu_affinity(const struct rec *r)
{
	size_t bytes = (size_t)r->nint * 8;
	uint64_t *mask = calloc(r->nint, 8);
	FAIL_IF(!mask, "%s: %s", S(0), ERR);
	for (uint32_t k = 0; k < r->nint; k++)
		mask[k] = I(k);
	/* The raw syscall takes any multiple of 8 bytes (glibc's cpu_set_t is a fixed 1024 bits). */
	FAIL_IF(syscall(SYS_sched_setaffinity, 0, bytes, mask) < 0,
		"%s: sched_setaffinity: %s%s", S(0), ERR, errno == EINVAL ? " (none of these CPUs is online and allowed by the container's cpuset)" : "");
	free(mask);
}

void op_session_keyring(const struct rec *r)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, S(0), 0, 0, 0);
	if (id < 0) {
		if (errno == ENOSYS)
			return; /* a kernel without keyrings: nothing to isolate (runc does the same) */
		fail(1, "join session keyring %s: %s", S(0), ERR);
	}
	if (I(0) == 0)
		return; /* joining an existing one (exec): its permissions are its creator's to set */
	/* KEYCTL_DESCRIBE: "type;uid;gid;perm;description", perm in hex. */
	char desc[512];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1, 0);
	FAIL_IF(n < 0, "describe session keyring %s: %s", S(0), ERR);
	desc[(size_t)n < sizeof desc ? (size_t)n : sizeof desc - 1] = '\0';
	const char *p = desc;
	for (int field = 0; field < 3 && p; field++) {
		p = strchr(p, ';');
		if (p)
			p++;
	}
	FAIL_IF(!p, "describe session keyring %s: unexpected answer \"%s\"", S(0), desc);
	unsigned long perm = strtoul(p, NULL, 16) | (unsigned long)I(0);
	FAIL_IF(syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm, 0, 0) < 0,
		"set permissions 0x%lx of session keyring %s: %s", perm, S(0), ERR);
}

void op_sysctl(const struct rec *r)
{
	const char *path = S(0), *value = S(1), *field = S(2);
	int dir = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	FAIL_IF(dir < 0, "%s: open /proc/sys: %s", field, ERR);
	/* The container's /proc must really be a procfs: a config that mounts something else there
	 * would get the write into that instead. */
	struct statfs sf;
	FAIL_IF(fstatfs(dir, &sf) < 0, "%s: statfs /proc/sys: %s", field, ERR);
	FAIL_IF(sf.f_type != PROC_SUPER_MAGIC,
		"%s: /proc/sys in the container is not a procfs (mount proc on /proc)", field);
	struct open_how how = {
		.flags = O_WRONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
	while (fd < 0 && (errno == EAGAIN || errno == EINTR));
	FAIL_IF(fd < 0, "%s: open /proc/sys/%s: %s", field, path, ERR);
	size_t len = strlen(value);
	ssize_t w = write(fd, value, len);
	FAIL_IF(w < 0, "%s: write \"%s\" to /proc/sys/%s: %s", field, value, path, ERR);
	FAIL_IF((size_t)w != len, "%s: write /proc/sys/%s: short write", field, path);
	close(fd);
	close(dir);
}

void op_oom_score_adj(const struct rec *r)
{
	char text[32];
	int len = snprintf(text, sizeof text, "%lld", (long long)I(0));
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	FAIL_IF(fd < 0, "%s: open /proc/self/oom_score_adj: %s", S(0), ERR);
	FAIL_IF(write(fd, text, (size_t)len) != len,
		"%s: write %s to /proc/self/oom_score_adj: %s%s", S(0), text, ERR, errno == EACCES ? " (a value below the one tsrun inherited needs CAP_SYS_RESOURCE)" : "");
	close(fd);
}
