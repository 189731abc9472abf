/*
 * tsrun-init --check-plan, outside the executor core: decode the plan on stdin exactly as `init` does
 * (header, every record's counts against the generated op table and op_check, lengths, NUL-terminated
 * strings) and run nothing. Prints one line per record,
 *   NAME ints=[u64,...] strs=["json string",...]
 * (ints as the unsigned 64-bit values stored; strings as JSON, UTF-8 passed through), and exits 0.
 * A bad plan exits 1 with "tsrun-init: bad plan: record <i> (<NAME>): ..." on stderr. The build and
 * test/unit/launch-contract.test.ts encode one record of every op and compare the echo.
 */
#include "tools.h"

static void put_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

int mode_check_plan(void)
{
	size_t len;
	unsigned char *buf = read_all(0, &len);
	uint32_t n;
	struct rec *recs = decode_plan(buf, len, &n);
	for (uint32_t i = 0; i < n; i++) {
		const struct rec *r = &recs[i];
		printf("%s ints=[", op_lookup(r->op)->name);
		for (uint32_t k = 0; k < r->nint; k++)
			printf("%s%llu", k ? "," : "", (unsigned long long)r->ints[k]);
		printf("] strs=[");
		for (uint32_t k = 0; k < r->nstr; k++) {
			if (k)
				putchar(',');
			put_json_string(r->strs[k]);
		}
		printf("]\n");
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("tsrun-init: --check-plan: write");
		return 1;
	}
	return 0;
}
