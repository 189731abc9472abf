/*
 * tsrun-init bpf-devices <cgroup v2 dir>: load the device eBPF program given on stdin (struct bpf_insn
 * array, built by src/cgroups/devices-bpf.ts) as BPF_PROG_TYPE_CGROUP_DEVICE named PROG_NAME, attach
 * it to the cgroup (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI), then detach the programs of that name the
 * cgroup had before (an earlier create's or update's). It decides nothing: the program is the decision.
 *
 * Attach first, detach after: while both are attached a device must pass both, so the replacement
 * never allows more than the old or the new rules do (no window where everything is allowed). Only
 * our own name is detached: another manager may attach its own program next to ours.
 *
 * The attachment holds a reference to the program, so it outlives this process and the fds; it is
 * dropped when the cgroup is removed. BPF_F_ALLOW_MULTI: programs of parent cgroups keep running too
 * (a device must pass all of them).
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#include "tools.h"
#include <linux/bpf.h>

#define PROG_MAX (1u << 20) /* bytes: far above any rule list, far below memory trouble */
#define PROG_NAME "tsrun_devices"  /* fits BPF_OBJ_NAME_LEN with its NUL */
#define OLD_MAX 64                 /* the kernel's limit of programs on one cgroup and attach type */

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* Ids of the device programs attached to the cgroup itself (not inherited ones); -1 on error. */
static int attached_ids(int cg, uint32_t *ids, uint32_t max)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.query.target_fd = (uint32_t)cg;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = max;
	if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
		return -1;
	return (int)attr.query.prog_cnt;
}

/* Detach program `id` from the cgroup if it is one of ours (by name): 0 done or not ours, -1 error. */
static int detach_if_ours(int cg, uint32_t id, const char *dir)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.prog_id = id;
	int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1; /* gone meanwhile */
	struct bpf_prog_info info;
	memset(&info, 0, sizeof info);
	memset(&attr, 0, sizeof attr);
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof info;
	attr.info.info = (uint64_t)(uintptr_t)&info;
	int rc = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
	if (rc == 0 && strncmp(info.name, PROG_NAME, sizeof info.name) == 0) {
		memset(&attr, 0, sizeof attr);
		attr.target_fd = (uint32_t)cg;
		attr.attach_bpf_fd = (uint32_t)fd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		rc = sys_bpf(BPF_PROG_DETACH, &attr);
		if (rc < 0)
			fprintf(stderr, "tsrun-init: bpf-devices: BPF_PROG_DETACH of the old program %u from %s: %s\n", id, dir, strerror(errno));
	} else if (rc < 0) {
		fprintf(stderr, "tsrun-init: bpf-devices: BPF_OBJ_GET_INFO_BY_FD of program %u: %s\n", id, strerror(errno));
	}
	close(fd);
	return rc;
}

int mode_bpf_devices(const char *dir)
{
	static unsigned char prog[PROG_MAX];
	size_t n = 0;
	for (;;) {
		if (n == sizeof prog) {
			fprintf(stderr, "tsrun-init: bpf-devices: program larger than %u bytes\n", PROG_MAX);
			return 1;
		}
		ssize_t r = read(0, prog + n, sizeof prog - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "tsrun-init: bpf-devices: read program: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == 0 || n % sizeof(struct bpf_insn) != 0) {
		fprintf(stderr, "tsrun-init: bpf-devices: program of %zu bytes is not a whole number of instructions\n", n);
		return 1;
	}

	int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		fprintf(stderr, "tsrun-init: bpf-devices: open %s: %s\n", dir, strerror(errno));
		return 1;
	}

	/* First without a log (fast); on failure once more with the verifier's log, to report why. */
	static char log[65536];
	union bpf_attr attr;
	int fd = -1;
	for (int verbose = 0; verbose < 2 && fd < 0; verbose++) {
		memset(&attr, 0, sizeof attr);
		attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
		attr.insns = (uint64_t)(uintptr_t)prog;
		attr.insn_cnt = (uint32_t)(n / sizeof(struct bpf_insn));
		attr.license = (uint64_t)(uintptr_t) "Apache-2.0"; /* no GPL-only helper is used */
		memcpy(attr.prog_name, PROG_NAME, sizeof PROG_NAME);
		if (verbose) {
			log[0] = 0;
			attr.log_buf = (uint64_t)(uintptr_t)log;
			attr.log_size = sizeof log;
			attr.log_level = 1;
		}
		fd = sys_bpf(BPF_PROG_LOAD, &attr);
	}
	if (fd < 0) {
		fprintf(stderr, "tsrun-init: bpf-devices: BPF_PROG_LOAD: %s%s%s\n", strerror(errno), log[0] ? "\n" : "", log);
		return 1;
	}

	/* The old programs are listed before the new one is attached, so the new one is never among them. */
	uint32_t old[OLD_MAX];
	int n_old = attached_ids(cg, old, OLD_MAX);
	if (n_old < 0) {
		fprintf(stderr, "tsrun-init: bpf-devices: BPF_PROG_QUERY of %s: %s\n", dir, strerror(errno));
		return 1;
	}

	memset(&attr, 0, sizeof attr);
	attr.target_fd = (uint32_t)cg;
	attr.attach_bpf_fd = (uint32_t)fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
		fprintf(stderr, "tsrun-init: bpf-devices: BPF_PROG_ATTACH to %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int failed = 0;
	for (int i = 0; i < n_old; i++)
		failed |= detach_if_ours(cg, old[i], dir) < 0;
	return failed;
}
