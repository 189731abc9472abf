/* tsrun-init: JOIN_NAMESPACES, the namespaces of a running container joined by `exec` (ints: one
 * CLONE_NEW* type per path; strs: /proc/<init pid>/ns/<name>). */
#include "init.h"

void op_join_namespaces(const struct rec *r)
{
	int fds[JOIN_MAX];
	/* Open all first: after setns(CLONE_NEWUSER) we have no capability in the host's user namespace,
	 * and the ns files of a non-dumpable process (a created container's init) need CAP_SYS_PTRACE there. */
	for (uint32_t i = 0; i < r->nstr; i++)
		FAIL_IF((fds[i] = open(S(i), O_RDONLY | O_CLOEXEC)) < 0, "open namespace %s: %s", S(i), ERR);
	for (uint32_t i = 0; i < r->nstr; i++) {
		FAIL_IF(setns(fds[i], (int)I(i)) < 0, "setns %s (type 0x%llx): %s", S(i), (unsigned long long)I(i), ERR);
		close(fds[i]);
	}
	/* Joining a user namespace installs new credentials, which resets the dumpable flag to
	 * fs.suid_dumpable (maybe 1): no process of the container may open our /proc/<pid>/exe or fds. */
	FAIL_IF(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0, "prctl PR_SET_DUMPABLE: %s", ERR);
}
