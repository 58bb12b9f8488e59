/* larson-like: a server model after Larson and Krishnan. Every thread slot owns a set of
 * 5000 live blocks of 8-999 B; a thread replaces random blocks in its set (free the old one,
 * allocate a new one of random size) 500 000 times and exits, and a fresh thread takes over
 * the same set. So a thread's cached memory must be recovered after it exits, and most frees
 * are of blocks an earlier thread made. The main thread allocates every set to begin with,
 * shuffles the blocks between sets and churns them, as the original's warm-up does. */
#include "stress_common.h"

enum { SLOTS_PER_SET = 5000, MIN_SIZE = 8, MAX_SIZE = 999, LIFETIME_REPLACEMENTS = 500000, LIFETIMES = 10 };

struct block_set {
    void *blocks[SLOTS_PER_SET];
    size_t sizes[SLOTS_PER_SET];
    struct stress_rng rng;
};

struct larson {
    struct block_set *sets;
    int lifetimes;
    uint64_t replacements_per_lifetime;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

struct lifetime { struct larson *run; struct block_set *set; };

static void fill_slot(void **block, size_t *size, struct stress_rng *rng)
{
    *size = stress_between(rng, MIN_SIZE, MAX_SIZE);
    *block = stress_malloc_or_die(*size);
    stress_tag(*block, *size, stress_next(rng));
}

static uint64_t replace_slot(void **block, size_t *size, struct stress_rng *rng, _Atomic uint64_t *corrupted)
{
    uint64_t tag = stress_release(*block, *size, corrupted);
    fill_slot(block, size, rng);
    return tag;
}

static void *live_one_lifetime(void *arg)
{
    struct lifetime *life = arg;
    struct block_set *set = life->set;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < life->run->replacements_per_lifetime; i++) {
        int slot = (int)stress_between(&set->rng, 0, SLOTS_PER_SET - 1);
        sum += replace_slot(&set->blocks[slot], &set->sizes[slot], &set->rng, &life->run->corrupted);
    }
    atomic_fetch_add(&life->run->checksum, sum);
    return NULL;
}

/* One thread slot: its set passes from each thread to a newly created successor. */
static void serve_slot(int index, void *shared)
{
    struct larson *run = shared;
    struct lifetime life = {run, &run->sets[index]};
    for (int n = 0; n < run->lifetimes; n++) {
        pthread_join(stress_create_thread(live_one_lifetime, &life), NULL);
    }
}

/* The main thread allocates all sets, shuffles the blocks across them and replaces four
 * times as many random blocks as there are, so the threads start on a used heap. */
static uint64_t warm_up(struct larson *run, int threads)
{
    size_t total = (size_t)threads * SLOTS_PER_SET;
    struct stress_rng rng = stress_rng_seed(0x1a750, STRESS_MAX_THREADS);
    for (size_t i = 0; i < total; i++)
        fill_slot(&run->sets[i / SLOTS_PER_SET].blocks[i % SLOTS_PER_SET],
                  &run->sets[i / SLOTS_PER_SET].sizes[i % SLOTS_PER_SET], &rng);
    for (size_t i = total - 1; i > 0; i--) {
        size_t j = stress_between(&rng, 0, i);
        struct block_set *a = &run->sets[i / SLOTS_PER_SET], *b = &run->sets[j / SLOTS_PER_SET];
        void *block = a->blocks[i % SLOTS_PER_SET];
        size_t size = a->sizes[i % SLOTS_PER_SET];
        a->blocks[i % SLOTS_PER_SET] = b->blocks[j % SLOTS_PER_SET];
        a->sizes[i % SLOTS_PER_SET] = b->sizes[j % SLOTS_PER_SET];
        b->blocks[j % SLOTS_PER_SET] = block;
        b->sizes[j % SLOTS_PER_SET] = size;
    }
    uint64_t sum = 0;
    for (size_t n = 0; n < 4 * total; n++) {
        size_t i = stress_between(&rng, 0, total - 1);
        struct block_set *set = &run->sets[i / SLOTS_PER_SET];
        sum += replace_slot(&set->blocks[i % SLOTS_PER_SET], &set->sizes[i % SLOTS_PER_SET], &rng, &run->corrupted);
    }
    return sum;
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    /* SCALE multiplies the lifetimes; below 1 it shortens the single lifetime instead. */
    struct larson run = {.lifetimes = (int)stress_scaled(LIFETIMES, args.scale),
                         .replacements_per_lifetime =
                             stress_scaled(LIFETIME_REPLACEMENTS, args.scale < 1 ? args.scale : 1)};
    run.sets = stress_malloc_or_die(sizeof *run.sets * (size_t)args.threads);
    for (int s = 0; s < args.threads; s++) run.sets[s].rng = stress_rng_seed(0x1a750, (uint64_t)s);
    uint64_t sum = warm_up(&run, args.threads);
    stress_run_threads(args.threads, serve_slot, &run);

    sum += atomic_load(&run.checksum);
    for (int s = 0; s < args.threads; s++)
        for (int slot = 0; slot < SLOTS_PER_SET; slot++)
            sum += stress_release(run.sets[s].blocks[slot], run.sets[s].sizes[slot], &run.corrupted);
    free(run.sets);
    return stress_report("larson", args, sum, atomic_load(&run.corrupted));
}
