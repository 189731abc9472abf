/*
 * tsrun-init: executes a launch plan between clone and execve. It decides nothing: every value was
 * resolved by the TypeScript planner (src/plan/), and the record layout, op codes and op semantics
 * are the contract in src/launch/ (ops.ts, sync.ts), from which the build generates
 * generated/contract.h. This file: argv modes, plan reading and validation, the loop.
 *
 * The executor core is every .c and .h directly in src/init/ (at most 1,500 lines, a unit test
 * checks it: test/unit/init-core-size.test.ts): main.c (decoder, loop), ops.c (op table, the thin
 * ops), sync.c (the line protocol with the parent), resolve.c and unix.c (helpers), and one file per
 * larger op: bind_sources.c console.c hook.c join.c mask.c mount_attr.c overlay.c privileges.c
 * pseudo_fs.c seccomp.c. Outside it, in directories of their own: relay/ (the attached terminal's
 * relay in a foreground stage 0), rss/ (the RSS trim before a long wait), tools/ (the modes below
 * other than init).
 *
 * Build: src/build/build.mjs (gcc -static -Os -Wall -Wextra -Werror of src/init/ and its
 * subdirectories, after generating the contract header). Static, so that the process holding a
 * created container stays tiny.
 *
 * Modes:
 *   tsrun-init init <planfd> <syncfd>   read the plan from planfd to EOF, run it (see sync.c)
 *   tsrun-init --check-plan             decode the plan on stdin, print its records, run nothing
 *                                       (tools/check_plan.c); exit 0 ok, 1 bad plan
 *   tsrun-init wait <pid> <timeout_ms>  wait for pid to exit with a pidfd (timeout -1 = forever);
 *                                       exit 0 exited (or no such process), 1 timeout, 2 error
 *   tsrun-init wait-input <pid> <ms>    the same, or until stdin is readable or hung up: exit 3
 *   tsrun-init bpf-devices <cgroup dir> load the device eBPF program read from stdin and attach it
 *                                       to the cgroup v2 directory (tools/bpf_devices.c); exit 0 ok, 1 error
 */
#include "init.h"

#define PLAN_MAX (64u << 20) /* refuse absurd plans instead of exhausting memory */

/* Nobody may ptrace us, read our memory, or open /proc/<pid>/exe (the host's tsrun-init) or
 * /proc/<pid>/fd/N of ours while we hold host resources: non-dumpable before main() runs, in every
 * mode. ptrace_may_access() then asks for CAP_SYS_PTRACE in the host's user namespace, which no
 * process of an unprivileged container has (the CVE-2019-5736 class). */
__attribute__((constructor)) static void not_dumpable(void)
{
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int parse_int(const char *s, long long min, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return -1;
	*out = v;
	return 0;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* Read fd to EOF into a malloc'd buffer. */
unsigned char *read_all(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap);
	FAIL_IF(!buf, "read plan: %s", strerror(errno));
	for (;;) {
		if (n == cap) {
			FAIL_IF(cap >= PLAN_MAX, "bad plan: larger than %u bytes", PLAN_MAX);
			cap *= 2;
			unsigned char *nb = realloc(buf, cap);
			FAIL_IF(!nb, "read plan: %s", strerror(errno));
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		FAIL_IF(r < 0, "read plan: %s", strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

/* Check the whole plan before running anything, and decode it into recs. */
struct rec *decode_plan(unsigned char *buf, size_t len, uint32_t *count)
{
	FAIL_IF(len < 12 || memcmp(buf, PLAN_MAGIC, 4) != 0, "bad plan: missing " PLAN_MAGIC " header");
	FAIL_IF(get_u32(buf + 4) != PLAN_VERSION, "bad plan: version %u, expected %u", get_u32(buf + 4), PLAN_VERSION);
	uint32_t n = get_u32(buf + 8);

	/* Pass 1: validate framing and counts, sum up ints and strings. */
	size_t off = 12, total_int = 0, total_str = 0;
	for (uint32_t i = 0; i < n; i++) {
		FAIL_IF(len - off < 16, "bad plan: record %u truncated", i);
		uint32_t op = get_u32(buf + off), nint = get_u32(buf + off + 4);
		uint32_t nstr = get_u32(buf + off + 8), paylen = get_u32(buf + off + 12);
		const struct op_def *d = op_lookup(op);
		off += 16;
		FAIL_IF(!d, "bad plan: record %u: unknown op %u", i, op);
		FAIL_IF((d->nint >= 0 && nint != (uint32_t)d->nint) || (d->nstr >= 0 && nstr != (uint32_t)d->nstr),
			"bad plan: record %u (%s): %u ints and %u strings, expected %d and %d", i, d->name, nint, nstr, d->nint, d->nstr);
		FAIL_IF(paylen > len - off || (uint64_t)nint * 8 > paylen,
			"bad plan: record %u (%s): payload overruns the plan", i, d->name);
		size_t p = off + (size_t)nint * 8, end = off + paylen;
		for (uint32_t s = 0; s < nstr; s++) {
			unsigned char *z = p < end ? memchr(buf + p, 0, end - p) : NULL;
			FAIL_IF(!z, "bad plan: record %u (%s): string %u not terminated", i, d->name, s);
			p = (size_t)(z - buf) + 1;
		}
		FAIL_IF(p != end, "bad plan: record %u (%s): payload length mismatch", i, d->name);
		off = end;
		total_int += nint;
		total_str += nstr;
	}
	FAIL_IF(off != len, "bad plan: %zu trailing bytes", len - off);

	/* Pass 2: decode (ints copied to aligned memory; strings stay in buf). */
	struct rec *recs = calloc(n ? n : 1, sizeof *recs);
	uint64_t *ints = calloc(total_int ? total_int : 1, sizeof *ints);
	char **strs = calloc(total_str ? total_str : 1, sizeof *strs);
	FAIL_IF(!recs || !ints || !strs, "decode plan: %s", strerror(errno));
	off = 12;
	for (uint32_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		r->op = get_u32(buf + off);
		r->nint = get_u32(buf + off + 4);
		r->nstr = get_u32(buf + off + 8);
		uint32_t paylen = get_u32(buf + off + 12);
		off += 16;
		r->ints = ints;
		for (uint32_t k = 0; k < r->nint; k++)
			*ints++ = get_u64(buf + off + 8 * (size_t)k);
		r->strs = strs;
		char *s = (char *)buf + off + 8 * (size_t)r->nint;
		for (uint32_t k = 0; k < r->nstr; k++) {
			*strs++ = s;
			s += strlen(s) + 1;
		}
		const char *bad = op_check(r);
		FAIL_IF(bad, "bad plan: record %u (%s): %s", i, op_lookup(r->op)->name, bad);
		off += paylen;
	}
	*count = n;
	return recs;
}

static int mode_init(const char *planarg, const char *syncarg)
{
	long long planfd, syncfd;
	if (parse_int(syncarg, 0, &syncfd) || syncfd > INT_MAX) {
		fprintf(stderr, "tsrun-init: bad sync fd %s\n", syncarg);
		return 1;
	}
	sync_fd = (int)syncfd;
	/* The sync fd must never reach the container process. */
	if (fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) {
		sync_fd = -1;
		fail(1, "sync fd %s: %s", syncarg, strerror(errno));
	}
	FAIL_IF(parse_int(planarg, 0, &planfd) || planfd > INT_MAX, "bad plan fd %s", planarg);
	/* not_dumpable() ran before main(); refuse to go on if it did not take. */
	FAIL_IF(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0, "prctl PR_SET_DUMPABLE: still dumpable");

	size_t len;
	unsigned char *buf = read_all((int)planfd, &len);
	close((int)planfd);
	uint32_t n;
	struct rec *recs = decode_plan(buf, len, &n);

	/* Stage 0 must survive a Ctrl-C or a TERM aimed at the caller's process group while it waits
	 * for a foreground container. The child restores default dispositions right after CLONE. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);

	for (uint32_t i = 0; i < n; i++)
		op_lookup(recs[i].op)->run(&recs[i]);
	/* A plan normally ends with EXEC, which does not return. */
	fail(1, "bad plan: ended without EXEC");
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "init") == 0)
		return mode_init(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "--check-plan") == 0)
		return mode_check_plan();
	if (argc == 4 && strcmp(argv[1], "wait") == 0)
		return mode_wait(argv[2], argv[3], 0);
	if (argc == 4 && strcmp(argv[1], "wait-input") == 0)
		return mode_wait(argv[2], argv[3], 1);
	if (argc == 3 && strcmp(argv[1], "bpf-devices") == 0)
		return mode_bpf_devices(argv[2]);
	fprintf(stderr, "usage: tsrun-init init <planfd> <syncfd>\n"
			"       tsrun-init --check-plan < plan\n"
			"       tsrun-init wait <pid> <timeout_ms>\n"
			"       tsrun-init wait-input <pid> <timeout_ms>\n"
			"       tsrun-init bpf-devices <cgroup dir>\n");
	return 2;
}
