/*
 * tsrun-init, outside the executor core: op MEMPOLICY (linux.memoryPolicy, runtime-spec 1.3). The plan
 * (src/security/memory-policy.ts) has turned the mode name, flags and node list into numbers; this
 * only makes the call. The policy belongs to the calling thread, is inherited by its children and
 * kept across execve: set here, it is the container process's.
 */
#include "../init.h"

#define MAX_NODE_WORDS 16 /* 1024 nodes: the kernel's largest MAX_NUMNODES */

void op_mempolicy(const struct rec *r)
{
	FAIL_IF(r->nint < 1 || r->nint > 1 + MAX_NODE_WORDS, "%s: bad plan: needs a mode and at most %d node mask words", S(0),
		MAX_NODE_WORDS);
	unsigned long mask[MAX_NODE_WORDS];
	size_t words = r->nint - 1;
	for (size_t i = 0; i < words; i++)
		mask[i] = (unsigned long)I(1 + i);
	/* maxnode counts one past the last bit: the kernel reads maxnode - 1 bits (set_mempolicy(2) BUGS). */
	unsigned long maxnode = words ? words * 64 + 1 : 0;
	FAIL_IF(syscall(SYS_set_mempolicy, (int)I(0), words ? mask : NULL, maxnode) < 0,
		"%s: set_mempolicy (mode 0x%llx, %zu node words): %s", S(0), (unsigned long long)I(0), words, ERR);
}
