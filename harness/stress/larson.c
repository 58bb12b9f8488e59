/* larson-like: a server model. Each round, every thread takes over a set of
 * live blocks that other threads allocated in the previous round, replaces
 * random blocks in it (free the old one, allocate a new one of random size
 * 8-1000 B) and hands the set on. Threads are created anew each round, as
 * in Larson and Krishnan's benchmark, so a thread's cached memory must be
 * recovered after it exits, and most frees are of blocks another thread made. */
#include "stress_common.h"

enum { SLOTS_PER_SET = 1000, MIN_SIZE = 8, MAX_SIZE = 1000 };

struct block_set {
    void *blocks[SLOTS_PER_SET];
    size_t sizes[SLOTS_PER_SET];
    struct stress_rng rng;
};

struct larson {
    struct block_set *sets;
    int threads;
    int round;
    uint64_t replacements_per_round;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

static void refill(struct block_set *set, int slot)
{
    size_t size = stress_between(&set->rng, MIN_SIZE, MAX_SIZE);
    set->blocks[slot] = stress_malloc_or_die(size);
    set->sizes[slot] = size;
    stress_tag(set->blocks[slot], size, stress_next(&set->rng));
}

static uint64_t release(struct block_set *set, int slot, _Atomic uint64_t *corrupted)
{
    return stress_release(set->blocks[slot], set->sizes[slot], corrupted);
}

static void serve_round(int thread_index, void *shared)
{
    struct larson *run = shared;
    /* Rotate sets between threads so every round frees blocks another thread allocated. */
    struct block_set *set = &run->sets[(thread_index + run->round) % run->threads];
    uint64_t sum = 0;
    for (uint64_t i = 0; i < run->replacements_per_round; i++) {
        int slot = (int)stress_between(&set->rng, 0, SLOTS_PER_SET - 1);
        sum += release(set, slot, &run->corrupted);
        refill(set, slot);
    }
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct larson run = {.threads = args.threads, .replacements_per_round = stress_scaled(90000, args.scale)};
    run.sets = stress_malloc_or_die(sizeof *run.sets * (size_t)args.threads);
    for (int s = 0; s < args.threads; s++) {
        run.sets[s].rng = stress_rng_seed(0x1a750, (uint64_t)s);
        for (int slot = 0; slot < SLOTS_PER_SET; slot++) refill(&run.sets[s], slot);
    }
    int rounds = (int)stress_scaled(100, args.scale < 1 ? args.scale : 1);
    for (run.round = 0; run.round < rounds; run.round++) stress_run_threads(args.threads, serve_round, &run);

    uint64_t sum = atomic_load(&run.checksum);
    for (int s = 0; s < args.threads; s++)
        for (int slot = 0; slot < SLOTS_PER_SET; slot++) sum += release(&run.sets[s], slot, &run.corrupted);
    free(run.sets);
    return stress_report("larson", args, sum, atomic_load(&run.corrupted));
}
