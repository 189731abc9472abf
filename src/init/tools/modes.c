/*
 * tsrun-init's modes other than init, outside the executor core (main.c runs init, then calls this):
 *   tsrun-init --check-plan             decode the plan on stdin, print its records, run nothing
 *                                       (tools/check_plan.c); exit 0 ok, 1 bad plan
 *   tsrun-init wait <pid> <timeout_ms>  wait for pid to exit with a pidfd (timeout -1 = forever);
 *                                       exit 0 exited (or no such process), 1 timeout, 2 error
 *   tsrun-init wait-input <pid> <ms>    the same, or until stdin is readable or hung up: exit 3
 *   tsrun-init bpf-devices <cgroup dir> load the device eBPF program read from stdin and attach it
 *                                       to the cgroup v2 directory (tools/bpf_devices.c); exit 0 ok, 1 error
 */
#include "tools.h"

int tool_main(int argc, char **argv)
{
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
