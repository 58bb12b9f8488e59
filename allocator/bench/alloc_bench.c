/* Micro-benchmarks of malloc/free, run under LD_PRELOAD of each allocator by compare.py.
 * Usage: alloc_bench CASE   (prints "CASE cpu_ns_per_op")
 *   pair-N      malloc(N) + free, repeated (the fast path)
 *   batch-N     1000 live blocks of N bytes, all freed, repeated (glibc's trim case)
 *   larson      2 threads, 1000 slots each, random 16..1000 byte blocks replaced at random,
 *               slot arrays swapped between threads every round (cross-thread frees)
 *   xmalloc     producer allocates 16..512 byte blocks, consumer thread frees them
 *   medium      random 16..128 KiB blocks, 64 live
 *   large       random 256 KiB..4 MiB blocks, 8 live, each touched once per page */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of the whole process (all threads, kernel time included): on a shared, loaded
 * machine wall time mostly measures how long we waited for a core. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *volatile sink;

static double bench_pair(size_t n)
{
    const long iters = 20000000;
    double t = now_ns();
    for (long i = 0; i < iters; i++) {
        void *p = malloc(n);
        sink = p;
        free(p);
    }
    return (now_ns() - t) / iters;
}

static double bench_batch(size_t n)
{
    enum { LIVE = 1000 };
    static void *slots[LIVE];
    const long rounds = 4000;
    double t = now_ns();
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < LIVE; i++) {
            slots[i] = malloc(n);
            *(char *)slots[i] = 1;
        }
        for (int i = 0; i < LIVE; i++)
            free(slots[i]);
    }
    return (now_ns() - t) / (rounds * LIVE);
}

enum { SLOTS = 1000 };
struct larson_arg {
    void **slots;
    uint64_t seed;
    long ops;
    pthread_barrier_t *barrier;
};
static void **larson_shared[2];

static void *larson_thread(void *p)
{
    struct larson_arg *a = p;
    for (int round = 0; round < 10; round++) {
        for (long i = 0; i < a->ops / 10; i++) {
            size_t k = rng_next(&a->seed) % SLOTS;
            free(a->slots[k]);
            a->slots[k] = malloc(16 + rng_next(&a->seed) % 985);
            *(char *)a->slots[k] = 1;
        }
        pthread_barrier_wait(a->barrier);  /* swap slot arrays: the other thread frees ours */
        a->slots = larson_shared[(a->slots == larson_shared[0]) ? 1 : 0];
        pthread_barrier_wait(a->barrier);
    }
    return NULL;
}

static double bench_larson(void)
{
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    struct larson_arg args[2];
    pthread_t threads[2];
    const long ops = 4000000;
    for (int t = 0; t < 2; t++) {
        larson_shared[t] = calloc(SLOTS, sizeof(void *));
        for (int i = 0; i < SLOTS; i++)
            larson_shared[t][i] = malloc(64);
        args[t] = (struct larson_arg){larson_shared[t], 88172645463325252ULL + t, ops, &barrier};
    }
    double t0 = now_ns();
    for (int t = 0; t < 2; t++)
        pthread_create(&threads[t], NULL, larson_thread, &args[t]);
    for (int t = 0; t < 2; t++)
        pthread_join(threads[t], NULL);
    return (now_ns() - t0) / (2.0 * ops);
}

enum { RING = 4096 };
static void *_Atomic ring[RING];

static void *xmalloc_consumer(void *arg)
{
    long total = *(long *)arg;
    for (long i = 0; i < total; i++) {
        void *p;
        while (!(p = __atomic_exchange_n(&ring[i % RING], NULL, __ATOMIC_ACQUIRE)))
            ;
        free(p);
    }
    return NULL;
}

static double bench_xmalloc(void)
{
    long total = 3000000;
    uint64_t seed = 12345;
    pthread_t consumer;
    double t0 = now_ns();
    pthread_create(&consumer, NULL, xmalloc_consumer, &total);
    for (long i = 0; i < total; i++) {
        void *p = malloc(16 + rng_next(&seed) % 497);
        *(char *)p = 1;
        while (__atomic_load_n(&ring[i % RING], __ATOMIC_ACQUIRE))
            ;
        __atomic_store_n(&ring[i % RING], p, __ATOMIC_RELEASE);
    }
    pthread_join(consumer, NULL);
    return (now_ns() - t0) / total;
}

static double bench_random_live(size_t lo, size_t hi, int live, long ops, int touch_pages)
{
    void *slots[64] = {0};
    uint64_t seed = 999;
    double t0 = now_ns();
    for (long i = 0; i < ops; i++) {
        size_t k = rng_next(&seed) % (size_t)live;
        free(slots[k]);
        size_t n = lo + rng_next(&seed) % (hi - lo);
        char *p = malloc(n);
        if (touch_pages)
            for (size_t off = 0; off < n; off += 4096)
                p[off] = 1;
        else
            p[0] = p[n - 1] = 1;
        slots[k] = p;
    }
    for (int k = 0; k < live; k++)
        free(slots[k]);
    return (now_ns() - t0) / ops;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s pair-N|batch-N|larson|xmalloc|medium|large\n", argv[0]);
        return 2;
    }
    const char *c = argv[1];
    double ns;
    if (strncmp(c, "pair-", 5) == 0)
        ns = bench_pair(strtoul(c + 5, NULL, 10));
    else if (strncmp(c, "batch-", 6) == 0)
        ns = bench_batch(strtoul(c + 6, NULL, 10));
    else if (strcmp(c, "larson") == 0)
        ns = bench_larson();
    else if (strcmp(c, "xmalloc") == 0)
        ns = bench_xmalloc();
    else if (strcmp(c, "medium") == 0)
        ns = bench_random_live(16384, 131072, 64, 2000000, 0);
    else if (strcmp(c, "large") == 0)
        ns = bench_random_live(262144, 4 << 20, 8, 3000, 1);
    else {
        fprintf(stderr, "alloc_bench: unknown case '%s'\n", c);
        return 2;
    }
    printf("%s %.2f\n", c, ns);
    return 0;
}
