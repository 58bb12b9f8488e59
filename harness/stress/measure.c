/* stress_measure: runs a program and reports its wall time and peak RSS.
 *
 *   stress_measure [--preload=LIB.so] [--stdin=FILE] PROGRAM ARGS...
 *
 * --stdin gives the program FILE as its standard input (a real program such as `sqlite3 < F`
 * runs without a shell in front of it, which would load the preloaded allocator a second time).
 * Prints the program's own output, then
 * `stress_measure: seconds=S cpu_seconds=C peak_rss_kib=K minor_faults=F status=N` (C = user +
 * system time, F = the program's minor page faults).
 * Why not measure from Python: a child's ru_maxrss includes the memory of the process it was
 * forked from (Linux records the pre-exec image's high-water mark), so a Python parent adds its
 * own ~15 MiB to every figure. This launcher is tiny, and sets LD_PRELOAD only for the program. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *preload = NULL, *input = NULL;
    int first = 1;
    if (first < argc && strncmp(argv[first], "--preload=", 10) == 0) preload = argv[first++] + 10;
    if (first < argc && strncmp(argv[first], "--stdin=", 8) == 0) input = argv[first++] + 8;
    if (first >= argc) {
        fprintf(stderr, "usage: stress_measure [--preload=LIB.so] [--stdin=FILE] PROGRAM ARGS...\n");
        return 2;
    }
    int input_fd = -1;
    if (input && (input_fd = open(input, O_RDONLY)) < 0) {
        fprintf(stderr, "stress_measure: cannot open --stdin %s: %s\n", input, strerror(errno));
        return 2;
    }
    fflush(stdout);
    double start = now_seconds();
    pid_t child = fork();
    if (child < 0) {
        fprintf(stderr, "stress_measure: fork failed: %s\n", strerror(errno));
        return 2;
    }
    if (child == 0) {
        if (preload) setenv("LD_PRELOAD", preload, 1);
        else unsetenv("LD_PRELOAD");
        if (input_fd >= 0 && dup2(input_fd, STDIN_FILENO) < 0) {
            fprintf(stderr, "stress_measure: cannot redirect stdin: %s\n", strerror(errno));
            _exit(127);
        }
        execv(argv[first], &argv[first]);
        fprintf(stderr, "stress_measure: cannot run %s: %s\n", argv[first], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage usage;
    while (wait4(child, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "stress_measure: wait4 failed: %s\n", strerror(errno));
            return 2;
        }
    }
    double seconds = now_seconds() - start;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    double cpu = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec * 1e-6 +
                 (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec * 1e-6;
    printf("stress_measure: seconds=%.6f cpu_seconds=%.6f peak_rss_kib=%ld minor_faults=%ld status=%d\n", seconds,
           cpu, usage.ru_maxrss, usage.ru_minflt, code);
    return code;
}
