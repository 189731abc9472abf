/* tsrun-init: JOIN_NAMESPACES, the namespaces of a running container joined by `exec`. */
#include "init.h"

void op_join_namespaces(const struct rec *r)
{
	int fds[JOIN_MAX];
	/* Open all first: a non-dumpable process's ns files need CAP_SYS_PTRACE, lost with CLONE_NEWUSER. */
	for (uint32_t i = 0; i < r->nstr; i++)
		FAIL_IF((fds[i] = open(S(i), O_RDONLY | O_CLOEXEC)) < 0, "open namespace %s: %s", S(i), ERR);
	for (uint32_t i = 0; i < r->nstr; i++) {
		FAIL_IF(setns(fds[i], (int)I(i)) < 0, "setns %s (type 0x%llx): %s", S(i), (unsigned long long)I(i), ERR);
		close(fds[i]);
	}
	/* New credentials reset the dumpable flag to fs.suid_dumpable (maybe 1). */
	FAIL_IF(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0, "prctl PR_SET_DUMPABLE: %s", ERR);
}
