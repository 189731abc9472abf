/*
 * tsrun-init, outside the executor core: the RSS trim before a long wait (op_clone's foreground wait,
 * op_wait_fifo's blocking open). Not plan execution: it changes no behaviour, only how much memory
 * the waiting process shows.
 */
#include "../init.h"
#include <link.h>
#include <sys/mman.h>

/* Before blocking for a long time (the created container waits for `start`; a foreground stage 0
 * waits for the container): give back the page-table entries of our read-only file mappings. A
 * static glibc binary touches most of its ~650 KiB of text and rodata at startup, and every fault
 * maps up to 64 KiB around it (fault-around), so this process would show ~0.6 MiB of RSS for code
 * it will never run again. MADV_DONTNEED on a private mapping that was never written only drops
 * PTEs: the pages stay in the page cache and fault back in when used. Writable segments (data,
 * RELRO with relocations applied) are left alone: dropping those would lose their contents. */
struct ro_range { uintptr_t start, len; };
#define MAX_RO_RANGES 8
static struct ro_range ro_ranges[MAX_RO_RANGES];
static int n_ro_ranges;

static int collect_segment(struct dl_phdr_info *info, size_t size, void *unused)
{
	(void)size;
	(void)unused;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (int k = 0; k < info->dlpi_phnum && n_ro_ranges < MAX_RO_RANGES; k++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
		ro_ranges[n_ro_ranges++] = (struct ro_range){ start, end - start };
	}
	return 1; /* only the first object: the executable itself */
}

/* The read-only ranges of the executable, found once. */
static void collect_ro_ranges(void)
{
	if (n_ro_ranges == 0)
		dl_iterate_phdr(collect_segment, NULL);
}

#if defined(__x86_64__)
/* Inline syscalls: no libc page is touched between the madvise and the blocking open. */
static inline long raw3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}
static inline long raw4(long nr, long a, long b, long c, long d)
{
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return ret;
}
#else
/* Elsewhere through libc (a few more pages come back after the trim). */
static long raw3(long nr, long a, long b, long c) { long r = syscall(nr, a, b, c); return r < 0 ? -errno : r; }
static long raw4(long nr, long a, long b, long c, long d) { long r = syscall(nr, a, b, c, d); return r < 0 ? -errno : r; }
#endif

/* Drop the text PTEs and block in open() with no libc code in between: every later fault would map
 * 64 KiB around it (fault-around) and undo most of the trim. */
int __attribute__((noinline)) trim_and_open(const char *path)
{
	collect_ro_ranges();
	for (int i = 0; i < n_ro_ranges; i++)
		raw3(SYS_madvise, (long)ro_ranges[i].start, (long)ro_ranges[i].len, MADV_DONTNEED);
	long fd;
	do
		fd = raw4(SYS_openat, AT_FDCWD, (long)path, O_WRONLY | O_CLOEXEC, 0);
	while (fd == -EINTR);
	return (int)fd;
}

void trim_rss(void)
{
	collect_ro_ranges();
	for (int i = 0; i < n_ro_ranges; i++)
		madvise((void *)ro_ranges[i].start, ro_ranges[i].len, MADV_DONTNEED);
}

