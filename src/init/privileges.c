/* tsrun-init: process settings. A refusal is the kernel's; the message names the config field (last string). */
#include "init.h"
#include <linux/keyctl.h>
#include <sys/personality.h>

/* text (why the kernel refused, where that is not the obvious reason) when errno is e, else "". */
static const char *hint(int e, int when, const char *text) { return errno == e && when ? text : ""; }

THIN_OP(personality, personality((unsigned long)I(0)), "%s: personality 0x%llx: %s", S(0), U(0), ERR)
THIN_OP(ioprio_set, syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (int)I(0)), "%s: ioprio_set (class %llu, level %llu): %s",
	S(0), (unsigned long long)(I(0) >> 13), (unsigned long long)(I(0) & 0x1fff), ERR)
/* The raw syscall takes any multiple of 8 bytes (glibc's cpu_set_t is a fixed 1024 bits). */
THIN_OP(cpu_affinity, syscall(SYS_sched_setaffinity, 0, (size_t)r->nint * 8, r->ints), "%s: sched_setaffinity: %s%s", S(0), ERR,
	hint(EINVAL, 1, " (none of these CPUs is online and allowed by the container's cpuset)"))

void op_sched_setattr(const struct rec *r)
{
	/* struct sched_attr, SCHED_ATTR_SIZE_VER0 (not in every glibc's headers) */
	struct {
		uint32_t size, policy;
		uint64_t flags;
		int32_t nice;
		uint32_t priority;
		uint64_t runtime, deadline, period;
	} a = {sizeof a, (uint32_t)I(0), I(1), (int32_t)I(2), (uint32_t)I(3), I(4), I(5), I(6)};
	/* EPERM for a realtime policy is usually a v1 cgroup's missing realtime budget: say so. */
	FAIL_IF(syscall(SYS_sched_setattr, 0, &a, 0) < 0,
		"%s: sched_setattr (policy %u, flags 0x%llx, nice %d, priority %u, runtime %llu, deadline %llu, period %llu): %s%s%s",
		S(0), a.policy, (unsigned long long)a.flags, a.nice, a.priority, (unsigned long long)a.runtime,
		(unsigned long long)a.deadline, (unsigned long long)a.period, ERR,
		hint(EPERM, a.policy == SCHED_FIFO || a.policy == SCHED_RR, " (a realtime policy needs CAP_SYS_NICE and, with the v1 cpu controller, a realtime budget: linux.resources.cpu.realtimeRuntime)"),
		hint(EBUSY, a.policy == 6 /* SCHED_DEADLINE */, " (SCHED_DEADLINE admission control: not enough bandwidth left)"));
}

void op_session_keyring(const struct rec *r)
{
	long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, S(0), 0, 0, 0);
	if (id < 0 && errno == ENOSYS)
		return; /* a kernel without keyrings: nothing to isolate (runc does the same) */
	FAIL_IF(id < 0, "join session keyring %s: %s", S(0), ERR);
	if (I(0) == 0)
		return; /* joining an existing one (exec): its permissions are its creator's to set */
	char desc[512] = ""; /* "type;uid;gid;perm;description", perm in hex; the last byte stays NUL */
	unsigned long perm;
	FAIL_IF(syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1, 0) < 0, "describe session keyring %s: %s", S(0), ERR);
	FAIL_IF(sscanf(desc, "%*[^;];%*[^;];%*[^;];%lx", &perm) != 1, "describe session keyring %s: unexpected answer \"%s\"", S(0), desc);
	perm |= (unsigned long)I(0);
	FAIL_IF(syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm, 0, 0) < 0, "set permissions 0x%lx of session keyring %s: %s", perm, S(0), ERR);
}
