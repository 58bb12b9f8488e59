/* fork() around the allocator, one ctest test per case, each forcing its interleaving
 * (no timing luck), with an alarm so that a deadlock fails the test instead of hanging it:
 *   fork_safety CASE
 * The cases are the behaviours of glibc's tst-malloc-fork-deadlock and tst-mallocfork2. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_under_test.h"
#include "case_runner.h"

/* A hang is the failure these cases look for: one line, then exit. */
static const char *hang_message = "fork_safety: deadlock (no progress for 20 s)\n";

static void report_hang(int signo)
{
    (void)signo;
    ssize_t written = write(2, hang_message, strlen(hang_message));
    (void)written;
    _exit(1);
}

static void fail_on_hang(const char *message)
{
    hang_message = message;
    signal(SIGALRM, report_hang);
    alarm(20);
}

static long thread_id(void)
{
    return (long)syscall(SYS_gettid);
}

/* The scheduler state of one of this process's threads ('S': asleep, waiting for a lock). */
static char task_state(long tid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return '?';
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    stat[n > 0 ? n : 0] = '\0';
    const char *after_name = strrchr(stat, ')');  /* the name may hold spaces and parentheses */
    return after_name && after_name[1] == ' ' ? after_name[2] : '?';
}

static void wait_until_asleep(long tid)
{
    while (task_state(tid) != 'S')
        usleep(1000);
}

static void wait_for_stage(atomic_int *stage, int at_least)
{
    while (atomic_load(stage) < at_least)
        sched_yield();
}

/* A child of a fork from a threaded process allocates every kind of block at once. */
static int child_allocates(void)
{
    static const size_t sizes[] = {24, 3000, 40000, 100000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *block = api_malloc(sizes[i]);
        if (!block)
            return 3;
        memset(block, 0x5a, sizes[i]);
        api_free(block);
    }
    return 0;
}

static void fork_and_check_child(const char *what)
{
    pid_t child = fork();
    if (child == 0)
        _exit(child_allocates());
    int status = 0;
    CHECK(child > 0 && waitpid(child, &status, 0) == child, "%s: fork/waitpid failed", what);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child status %#x", what, status);
}

/* ---- stdio_lock_order: tst-malloc-fork-deadlock's circle, forced ----
 * glibc's fork takes its list of open FILEs' lock after the atfork prepare handlers.
 * fflush(NULL) holds that list lock while it waits for each FILE's own lock, and a thread
 * holding a FILE's lock may be inside malloc (getline growing its buffer does it). Forced
 * here: the holder locks a FILE, the flusher waits for it inside fflush(NULL), the main
 * thread forks and is asleep in fork, and only then does the holder allocate. If the fork
 * had taken the allocator's locks before the list lock, the holder would wait for the fork,
 * the fork for the flusher and the flusher for the holder. */
static FILE *shared_file;
static atomic_int stage;
static atomic_long forker_tid, flusher_tid;

static void *hold_file_then_allocate(void *unused)
{
    (void)unused;
    flockfile(shared_file);
    atomic_store(&stage, 1);
    wait_for_stage(&stage, 3);
    wait_until_asleep(atomic_load(&forker_tid));  /* inside fork(), waiting for the list lock */
    void *block = api_malloc(1 << 20);
    CHECK(block != NULL, "malloc(1 MiB) while a fork waits: NULL");
    api_free(block);
    funlockfile(shared_file);
    return NULL;
}

static void *flush_all_files(void *unused)
{
    (void)unused;
    wait_for_stage(&stage, 1);
    atomic_store(&flusher_tid, thread_id());
    atomic_store(&stage, 2);
    fflush(NULL);  /* holds the list lock, waits for the holder's FILE */
    return NULL;
}

static void test_stdio_lock_order(void)
{
    fail_on_hang("fork_safety stdio_lock_order: deadlock: fork, fflush(NULL) and a thread "
                 "allocating while it holds a FILE's lock wait for each other\n");
    shared_file = fopen("/dev/null", "w");
    CHECK(shared_file != NULL, "fopen(/dev/null) failed");
    if (!shared_file)
        return;
    atomic_store(&forker_tid, thread_id());
    pthread_t holder, flusher;
    pthread_create(&holder, NULL, hold_file_then_allocate, NULL);
    pthread_create(&flusher, NULL, flush_all_files, NULL);
    wait_for_stage(&stage, 2);
    wait_until_asleep(atomic_load(&flusher_tid));  /* inside fflush(NULL), waiting for the FILE */
    atomic_store(&stage, 3);
    fork_and_check_child("stdio_lock_order");
    pthread_join(holder, NULL);
    pthread_join(flusher, NULL);
    fclose(shared_file);
}

/* ---- signal_handler_fork: tst-mallocfork2's case, forced ----
 * A single-threaded program forks from a signal handler that interrupted malloc while it held
 * an allocator lock. mem_io grows arena 0 (the first thread's medium blocks) with sbrk while it
 * holds that arena's lock; this definition of sbrk takes the place of libc's in the process
 * (it is called by name), so the signal arrives from inside that critical section. */
extern void *__sbrk(intptr_t increment);
static volatile sig_atomic_t raise_in_sbrk, raised_in_sbrk, handler_fork_ok;

void *sbrk(intptr_t increment)
{
    if (raise_in_sbrk) {
        raise_in_sbrk = 0;
        raised_in_sbrk = 1;
        raise(SIGUSR1);
    }
    return __sbrk(increment);
}

static void fork_in_handler(int signo)
{
    (void)signo;
    int saved = errno;
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    int status = -1;
    handler_fork_ok = child > 0 && waitpid(child, &status, 0) == child && status == 0;
    errno = saved;
}

static void test_signal_handler_fork(void)
{
    fail_on_hang("fork_safety signal_handler_fork: deadlock: fork() in a signal handler that "
                 "interrupted malloc waits for a lock its own thread holds\n");
    struct sigaction action = {.sa_handler = fork_in_handler};
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    enum { medium_size = 100000, tries = 64 };
    void *blocks[tries];
    size_t made = 0;
    while (made < tries && !raised_in_sbrk) {  /* live blocks: each one past the free space grows it */
        raise_in_sbrk = 1;
        blocks[made] = api_malloc(medium_size);
        CHECK(blocks[made] != NULL, "malloc(%d) with a fork in the signal handler: NULL", medium_size);
        memset(blocks[made], 1, medium_size);
        made++;
    }
    raise_in_sbrk = 0;
    CHECK(raised_in_sbrk, "no malloc(%d) of %d called sbrk: this case no longer reaches the lock",
          medium_size, tries);
    CHECK(handler_fork_ok, "the fork in the signal handler failed");
    for (size_t i = 0; i < made; i++)
        api_free(blocks[i]);
}

static const struct test_case cases[] = {
    {"stdio_lock_order", test_stdio_lock_order},
    {"signal_handler_fork", test_signal_handler_fork},
};

int main(int argc, char **argv)
{
    return run_named_case(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
