/* mstress-like: memory stress with mixed lifetimes and resizes. Each thread
 * keeps a pool of slots: a few long-lived (replaced rarely), most short-lived;
 * each step frees-and-allocates, reallocs to a new size, or swaps a block
 * with a shared exchange array so it is later resized or freed by another
 * thread. Sizes are mostly small with a tail up to 256 KiB (past mmap
 * thresholds), like mimalloc-bench's mstress. */
#include "stress_common.h"

enum { SLOTS = 4000, LONG_LIVED = 400, EXCHANGE = 1024 };

struct slot { void *block; size_t size; };

struct mstress {
    _Atomic(struct slot *) exchange[EXCHANGE];
    uint64_t steps_per_thread;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

static size_t pick_size(struct stress_rng *rng)
{
    uint64_t r = stress_next(rng) % 1000;
    if (r < 900) return stress_between(rng, 8, 256);
    if (r < 995) return stress_between(rng, 257, 8192);
    return stress_between(rng, 8193, 256 * 1024);
}

/* A slot record travels with its block through the exchange, so whoever
 * frees the block knows its size. */
static struct slot *make_slot(struct stress_rng *rng)
{
    struct slot *s = stress_malloc_or_die(sizeof *s);
    s->size = pick_size(rng);
    s->block = stress_malloc_or_die(s->size);
    stress_tag(s->block, s->size, stress_next(rng));
    return s;
}

static uint64_t drop_slot(struct slot *s, _Atomic uint64_t *corrupted)
{
    if (!s) return 0;
    uint64_t tag = stress_release(s->block, s->size, corrupted);
    free(s);
    return tag;
}

static void resize_slot(struct slot *s, struct stress_rng *rng, _Atomic uint64_t *corrupted)
{
    uint64_t tag = stress_untag(s->block, s->size, corrupted);
    size_t size = pick_size(rng);
    s->block = realloc(s->block, size);
    if (!s->block) {
        fprintf(stderr, "mstress: realloc(%zu) failed: out of memory\n", size);
        exit(1);
    }
    s->size = size;
    stress_tag(s->block, size, tag);
}

static void worker(int index, void *shared)
{
    struct mstress *run = shared;
    struct stress_rng rng = stress_rng_seed(0x357e55, (uint64_t)index);
    struct slot **pool = stress_malloc_or_die(sizeof *pool * SLOTS);
    for (int i = 0; i < SLOTS; i++) pool[i] = make_slot(&rng);
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps_per_thread; step++) {
        uint64_t r = stress_next(&rng) % 100;
        /* Long-lived slots are touched 100 times less often than the others. */
        int i = stress_next(&rng) % 100 == 0 ? (int)stress_between(&rng, 0, LONG_LIVED - 1)
                                             : (int)stress_between(&rng, LONG_LIVED, SLOTS - 1);
        if (r < 60) {
            sum += drop_slot(pool[i], &run->corrupted);
            pool[i] = make_slot(&rng);
        } else if (r < 90) {
            resize_slot(pool[i], &rng, &run->corrupted);
        } else {
            int e = (int)stress_between(&rng, 0, EXCHANGE - 1);
            struct slot *got = atomic_exchange(&run->exchange[e], pool[i]);
            pool[i] = got;
        }
    }
    for (int i = 0; i < SLOTS; i++) sum += drop_slot(pool[i], &run->corrupted);
    free(pool);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    static struct mstress run;
    run.steps_per_thread = stress_scaled(1600000, args.scale);
    /* A full exchange keeps every thread's random stream independent of timing. */
    struct stress_rng rng = stress_rng_seed(0x357e55, STRESS_MAX_THREADS);
    for (int e = 0; e < EXCHANGE; e++) atomic_store(&run.exchange[e], make_slot(&rng));
    stress_run_threads(args.threads, worker, &run);
    uint64_t sum = atomic_load(&run.checksum);
    for (int e = 0; e < EXCHANGE; e++) sum += drop_slot(atomic_load(&run.exchange[e]), &run.corrupted);
    return stress_report("mstress", args, sum, atomic_load(&run.corrupted));
}
