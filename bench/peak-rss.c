/*
 * peak-rss ARGV...: run ARGV (stdin and stdout on /dev/null), print its peak RSS in KiB (ru_maxrss of
 * wait4) and its wall time in microseconds (fork to reaped, CLOCK_MONOTONIC), exit with its status.
 *
 * Why a C program and not os.wait4 in python: the kernel keeps the largest RSS a process ever had,
 * and on execve it folds in the high-water mark of the memory it leaves (fs/exec.c, exec_mmap ->
 * setmax_mm_hiwater_rss). A child forked (or vforked) from python starts as a copy of python, so
 * every command would report at least python's ~11 MiB. Forked from this static program, the floor
 * is its own few hundred KiB. Built by bench/bench.sh with gcc -static.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: peak-rss ARGV...\n");
		return 2;
	}
	long long t0 = now_us();
	pid_t pid = fork();
	if (pid < 0) {
		perror("peak-rss: fork");
		return 2;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		execvp(argv[1], argv + 1);
		perror("peak-rss: exec");
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("peak-rss: wait4");
		return 2;
	}
	long long t1 = now_us();
	printf("%ld %lld\n", ru.ru_maxrss, t1 - t0);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
