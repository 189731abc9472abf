/* tsrun-init runs a launch plan (contract: src/launch/ -> generated/contract.h) between clone and execve,
 * deciding nothing. Here: the decoder and `init <planfd> <syncfd>`. The executor core is every .c/.h directly
 * in src/init/ (at most 1,500 lines); outside: relay/ (stage 0's wait), rss/ (RSS trim), tools/ (modes), numa/, idmap/, pidfd/,
 * procfs/. */
#include "init.h"

#define PLAN_MAX (64u << 20) /* refuse absurd plans instead of exhausting memory */

/* Non-dumpable before main(), in every mode: ptrace, our memory, /proc/<pid>/exe (the host's binary)
 * and /proc/<pid>/fd/N then need CAP_SYS_PTRACE in the host's user namespace (CVE-2019-5736 class). */
__attribute__((constructor)) static void not_dumpable(void) { prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }

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

static uint32_t get_u32(const unsigned char *p) /* little endian, unaligned */
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

unsigned char *read_all(int fd, size_t *len)
{
	size_t cap = 0, n = 0;
	unsigned char *buf = NULL;
	for (;;) {
		if (n == cap) {
			FAIL_IF(cap >= PLAN_MAX, "bad plan: larger than %u bytes", PLAN_MAX);
			unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);
			FAIL_IF(!nb, "read plan: %s", ERR);
			buf = nb;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got == 0)
			break;
		FAIL_IF(got < 0 && errno != EINTR, "read plan: %s", ERR);
		n += got > 0 ? (size_t)got : 0;
	}
	*len = n;
	return buf;
}

struct rec *decode_plan(unsigned char *buf, size_t len, uint32_t *count)
{
	FAIL_IF(len < 12 || memcmp(buf, PLAN_MAGIC, 4) != 0, "bad plan: missing " PLAN_MAGIC " header");
	FAIL_IF(get_u32(buf + 4) != PLAN_VERSION, "bad plan: version %u, expected %u", get_u32(buf + 4), PLAN_VERSION);
	uint32_t n = get_u32(buf + 8);
	size_t off = 12, fit = (len - 12) / 16; /* a record takes at least 16 bytes */
	size_t ti = 0, ts = 0; /* totals first: one block each keeps the held init's heap small */
	for (size_t o = 12; o + 16 <= len && ti <= len && ts <= len; o += 16 + (size_t)get_u32(buf + o + 12))
		ti += get_u32(buf + o + 4), ts += get_u32(buf + o + 8);
	struct rec *recs = calloc((n < fit ? n : fit) + 1, sizeof *recs);
	uint64_t *ints = malloc(((ti < len / 8 ? ti : len / 8) + 1) * 8); /* a valid plan needs no more */
	char **strs = malloc(((ts < len ? ts : len) + 1) * sizeof *strs);
	FAIL_IF(!recs || !ints || !strs, "decode plan: %s", ERR);
	for (uint32_t i = 0; i < n; i++) {
		struct rec *r = &recs[i];
		FAIL_IF(len - off < 16, "bad plan: record %u truncated", i);
		r->op = get_u32(buf + off), r->nint = get_u32(buf + off + 4), r->nstr = get_u32(buf + off + 8);
		size_t paylen = get_u32(buf + off + 12), end = (off += 16) + paylen, p = off + (size_t)r->nint * 8;
		const struct op_def *d = op_lookup(r->op);
		FAIL_IF(!d, "bad plan: record %u: unknown op %u", i, r->op);
		FAIL_IF((d->nint >= 0 && r->nint != (uint32_t)d->nint) || (d->nstr >= 0 && r->nstr != (uint32_t)d->nstr),
			"bad plan: record %u (%s): %u ints and %u strings, expected %d and %d", i, d->name, r->nint, r->nstr, d->nint, d->nstr);
		FAIL_IF(paylen > len - off || (uint64_t)r->nint * 8 > paylen, "bad plan: record %u (%s): payload overruns the plan", i, d->name);
		r->ints = ints, r->strs = strs;
		for (uint32_t k = 0; k < r->nint; k++)
			*ints++ = get_u32(buf + off + 8 * k) | (uint64_t)get_u32(buf + off + 8 * k + 4) << 32;
		for (uint32_t s = 0; s < r->nstr; s++) {
			unsigned char *z = p < end ? memchr(buf + p, 0, end - p) : NULL;
			FAIL_IF(!z, "bad plan: record %u (%s): string %u not terminated", i, d->name, s);
			*strs++ = (char *)buf + p;
			p = (size_t)(z - buf) + 1;
		}
		FAIL_IF(p != end, "bad plan: record %u (%s): payload length mismatch", i, d->name);
		off = end;
	}
	FAIL_IF(off != len, "bad plan: %zu trailing bytes", len - off);
	for (uint32_t i = 0; i < n; i++) { /* the checks on values, once the framing is known good */
		const char *bad = op_check(&recs[i]);
		FAIL_IF(bad, "bad plan: record %u (%s): %s", i, op_lookup(recs[i].op)->name, bad);
	}
	*count = n;
	return recs;
}

static int mode_init(const char *planarg, const char *syncarg)
{
	long long planfd, syncfd;
	FAIL_IF(parse_int(syncarg, 0, &syncfd) || syncfd > INT_MAX, "bad sync fd %s", syncarg);
	FAIL_IF(fcntl((int)syncfd, F_SETFD, FD_CLOEXEC) < 0, "sync fd %s: %s", syncarg, ERR);
	sync_fd = (int)syncfd;
	FAIL_IF(parse_int(planarg, 0, &planfd) || planfd > INT_MAX, "bad plan fd %s", planarg);
	FAIL_IF(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0, "prctl PR_SET_DUMPABLE: still dumpable");
	size_t len;
	uint32_t n;
	unsigned char *buf = read_all((int)planfd, &len);
	close((int)planfd);
	/* Only the contract's fds: node's spawn passes on every fd its process inherited, and the waiting init held them. */
	syscall(SYS_close_range, (unsigned)(syncfd > planfd ? syncfd : planfd) + 1, ~0U, 0U);
	struct rec *recs = decode_plan(buf, len, &n);
	/* Stage 0 survives a Ctrl-C aimed at the caller's process group (the child resets them at CLONE). */
	int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	for (size_t k = 0; k < 4; k++)
		signal(ignored[k], SIG_IGN);
	for (uint32_t i = 0; i < n; i++)
		op_lookup(recs[i].op)->run(&recs[i]);
	fail(1, "bad plan: ended without EXEC"); /* EXEC does not return */
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "init") == 0)
		return mode_init(argv[2], argv[3]);
	return tool_main(argc, argv);
}
