/* Shared plumbing for the stress programs: argument parsing, a seeded RNG,
 * thread launching and the checksum line every program prints.
 *
 * Every program is called as `PROGRAM THREADS SCALE`: THREADS worker threads,
 * SCALE a multiplier of the work (1.0: see README.md for each program's work and
 * how it compares with the original benchmark's).
 * The checksum is a sum of per-block tags written when a block is allocated and
 * read back when it is freed, so it depends only on the arguments, never on the
 * allocator or on how threads interleave: a differing checksum means an
 * allocator lost or corrupted memory. */
#ifndef STRESS_COMMON_H
#define STRESS_COMMON_H

#define _GNU_SOURCE /* pthread barriers, sched_yield, madvise */

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRESS_MAX_THREADS 256

struct stress_args {
    int threads;
    double scale;
};

static inline void stress_usage_error(const char *program, const char *why)
{
    fprintf(stderr, "%s: %s\nusage: %s THREADS SCALE   (THREADS 1..%d, SCALE > 0, 1.0 = the default work)\n",
            program, why, program, STRESS_MAX_THREADS);
    exit(2);
}

static inline struct stress_args stress_parse_args(int argc, char **argv)
{
    const char *program = argc > 0 ? argv[0] : "stress";
    struct stress_args args = {2, 1.0};
    if (argc != 3) stress_usage_error(program, "expected exactly two arguments");

    char *end;
    errno = 0;
    long threads = strtol(argv[1], &end, 10);
    if (errno || *end || end == argv[1] || threads < 1 || threads > STRESS_MAX_THREADS) {
        char why[160];
        snprintf(why, sizeof why, "THREADS must be an integer from 1 to %d, got '%s'", STRESS_MAX_THREADS, argv[1]);
        stress_usage_error(program, why);
    }
    errno = 0;
    double scale = strtod(argv[2], &end);
    if (errno || *end || end == argv[2] || !(scale > 0) || scale > 1e6) {
        char why[160];
        snprintf(why, sizeof why, "SCALE must be a number above 0, got '%s'", argv[2]);
        stress_usage_error(program, why);
    }
    args.threads = (int)threads;
    args.scale = scale;
    return args;
}

/* Work count scaled by SCALE, at least 1 so tiny scales still exercise every path. */
static inline uint64_t stress_scaled(uint64_t base, double scale)
{
    double n = (double)base * scale;
    return n < 1 ? 1 : (uint64_t)n;
}

/* splitmix64: tiny, fast and good enough to pick sizes and slots. */
struct stress_rng { uint64_t state; };

static inline struct stress_rng stress_rng_seed(uint64_t program_seed, uint64_t stream)
{
    struct stress_rng rng = {program_seed * 0x9E3779B97F4A7C15ull + stream * 0xD1B54A32D192ED03ull + 1};
    return rng;
}

static inline uint64_t stress_next(struct stress_rng *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline size_t stress_between(struct stress_rng *rng, size_t lo, size_t hi)
{
    return lo + (size_t)(stress_next(rng) % (hi - lo + 1));
}

/* Sizes lo..hi with probability proportional to 1/size^2, the distribution of
 * glibc's bench-malloc-thread: mostly small blocks, a long tail of big ones.
 * Inverse transform of the continuous density on [lo, hi+1). */
static inline size_t stress_inverse_square(struct stress_rng *rng, size_t lo, size_t hi)
{
    double u = (double)(stress_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    double a = 1.0 / (double)lo, b = 1.0 / (double)(hi + 1);
    size_t size = (size_t)(1.0 / (a - u * (a - b)));
    return size < lo ? lo : size > hi ? hi : size;
}

/* Tag a block: the tag goes in its first word and, for blocks of 16 bytes or
 * more, its last word, so an allocator that overlaps blocks or loses contents
 * changes the checksum. Blocks under 8 bytes keep only the tag's low bytes. */
static inline uint64_t stress_tag(void *block, size_t size, uint64_t tag)
{
    size_t n = size < sizeof tag ? size : sizeof tag;
    if (n < sizeof tag) tag &= (1ull << (8 * n)) - 1;
    memcpy(block, &tag, n);
    if (size >= 16) memcpy((char *)block + size - sizeof tag, &tag, sizeof tag);
    return tag;
}

/* Reads the tag back; a block whose two copies disagree counts as corrupted. */
static inline uint64_t stress_untag(const void *block, size_t size, _Atomic uint64_t *corrupted)
{
    uint64_t head = 0, tail;
    memcpy(&head, block, size < sizeof head ? size : sizeof head);
    if (size >= 16) {
        memcpy(&tail, (const char *)block + size - sizeof tail, sizeof tail);
        if (tail != head) atomic_fetch_add_explicit(corrupted, 1, memory_order_relaxed);
    }
    return head;
}

/* Reads a block's tag back and frees it (a NULL block: nothing, tag 0), so
 * emptying a slot is one line. */
static inline uint64_t stress_release(void *block, size_t size, _Atomic uint64_t *corrupted)
{
    if (!block) return 0;
    uint64_t tag = stress_untag(block, size, corrupted);
    free(block);
    return tag;
}

static inline void *stress_malloc_or_die(size_t size)
{
    void *block = malloc(size);
    if (!block) {
        fprintf(stderr, "stress: malloc(%zu) failed: out of memory\n", size);
        exit(1);
    }
    return block;
}

typedef void (*stress_worker)(int thread_index, void *shared);

struct stress_launch { stress_worker worker; int index; void *shared; };

static inline void *stress_thread_main(void *arg)
{
    struct stress_launch *launch = arg;
    launch->worker(launch->index, launch->shared);
    return NULL;
}

/* pthread_create, or one line on stderr and exit 1: a stress run without its threads means nothing. */
static inline pthread_t stress_create_thread(void *(*start)(void *), void *arg)
{
    pthread_t id;
    int rc = pthread_create(&id, NULL, start, arg);
    if (rc) {
        fprintf(stderr, "stress: pthread_create failed: %s\n", strerror(rc));
        exit(1);
    }
    return id;
}

/* Where worker 0 runs. The originals differ, and it matters to glibc, whose main thread
 * allocates from the brk heap and every other thread from an mmap'd arena. */
enum stress_main_thread {
    STRESS_MAIN_WAITS,       /* every worker on a new thread, the main thread only joins them */
    STRESS_MAIN_WORKS,       /* worker 0 on the main thread, the others on new threads */
    STRESS_MAIN_WORKS_ALONE, /* the main thread when there is one worker, else all on new threads */
};

/* Runs worker(i, shared) for i < threads, worker 0 placed as `main_thread` says, and waits
 * for all of them. */
static inline void stress_run_workers(int threads, enum stress_main_thread main_thread, stress_worker worker,
                                      void *shared)
{
    int on_main = main_thread == STRESS_MAIN_WORKS || (main_thread == STRESS_MAIN_WORKS_ALONE && threads == 1);
    pthread_t ids[STRESS_MAX_THREADS];
    struct stress_launch launches[STRESS_MAX_THREADS];
    for (int i = on_main; i < threads; i++) {
        launches[i] = (struct stress_launch){worker, i, shared};
        ids[i] = stress_create_thread(stress_thread_main, &launches[i]);
    }
    if (on_main) worker(0, shared);
    for (int i = on_main; i < threads; i++) pthread_join(ids[i], NULL);
}

/* Runs worker(i, shared) on `threads` new threads and waits for all of them. */
static inline void stress_run_threads(int threads, stress_worker worker, void *shared)
{
    stress_run_workers(threads, STRESS_MAIN_WAITS, worker, shared);
}

/* Prints the result line and returns the exit status: 0, or 1 when any
 * block came back corrupted. */
static inline int stress_report(const char *name, struct stress_args args, uint64_t checksum, uint64_t corrupted)
{
    printf("%s threads=%d scale=%g checksum=%016llx corrupted=%llu\n", name, args.threads, args.scale,
           (unsigned long long)checksum, (unsigned long long)corrupted);
    if (corrupted) fprintf(stderr, "%s: %llu blocks came back corrupted\n", name, (unsigned long long)corrupted);
    return corrupted ? 1 : 0;
}

/* Most programs are the same shape: every thread runs the same number of
 * independent steps (base_steps * SCALE) on its own blocks and adds the tags
 * it read back to one checksum. Their worker gets a struct stress_steps. */
struct stress_steps {
    uint64_t steps_per_thread;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

/* The whole main() of such a program: parse THREADS SCALE, run worker on
 * every thread, print the result line, return the exit status. */
static inline int stress_steps_main(int argc, char **argv, const char *name, uint64_t base_steps,
                                    enum stress_main_thread main_thread, stress_worker worker)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct stress_steps run = {.steps_per_thread = stress_scaled(base_steps, args.scale)};
    stress_run_workers(args.threads, main_thread, worker, &run);
    return stress_report(name, args, atomic_load(&run.checksum), atomic_load(&run.corrupted));
}

#endif
