/*
 * tsrun-init: JOIN_NAMESPACES (53), the namespaces of a running container joined by `exec`.
 * Record: ints = one CLONE_NEW* type per path, strs = the paths (/proc/<init pid>/ns/<name>).
 */
#include "init.h"

void op_join_namespaces(const struct rec *r)
{
	int fds[JOIN_MAX];
	uint32_t n = r->nstr;

	/* Open everything first. After setns(CLONE_NEWUSER) this process has no capability in the host's
	 * user namespace any more, and the /proc/<pid>/ns files of a non-dumpable process (the waiting init of a
	 * created container) needs CAP_SYS_PTRACE there. */
	for (uint32_t i = 0; i < n; i++) {
		fds[i] = open(S(i), O_RDONLY | O_CLOEXEC);
		FAIL_IF(fds[i] < 0, "open namespace %s: %s", S(i), ERR);
	}
	for (uint32_t i = 0; i < n; i++) {
		FAIL_IF(setns(fds[i], (int)I(i)) < 0,
			"setns %s (type 0x%llx): %s", S(i), (unsigned long long)I(i), ERR);
		close(fds[i]);
	}
	/* Joining a user namespace installs new credentials, and the kernel then resets the dumpable flag
	 * to fs.suid_dumpable, which may be 1: a process of the container must never be able to open
	 * /proc/<this pid>/exe (the host's tsrun-init) or our fds while we are still tsrun-init. */
	FAIL_IF(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0, "prctl PR_SET_DUMPABLE: %s", ERR);
}
