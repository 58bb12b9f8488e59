/* A write of one byte past the end, for every request size up to 700 bytes and around the
 * medium and large thresholds, with every position of the end in the block: each in a child
 * process, which must die of SIGABRT. Then the program makes the same mistake itself. */
#include "case.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void overflow(size_t n)
{
    unsigned char *p = opaque(malloc(n));
    p[n] = 'x';
    free(p);
}

static int caught_in_child(size_t n)
{
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        freopen("/dev/null", "w", stderr);  /* hundreds of mem_io lines: the parent's is enough */
        overflow(n);
        _exit(0);
    }
    int status;
    return waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

int main(void)
{
    static const size_t ranges[][2] = {{1, 700}, {16360, 16400}, {131040, 131090}, {300000, 300020}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
        for (size_t n = ranges[r][0]; n <= ranges[r][1]; n++)
            if (!caught_in_child(n)) {
                printf("case failed: a one-byte overflow of a %zu-byte block was missed\n", n);
                return 1;
            }
    overflow(100);
    return 0;
}
